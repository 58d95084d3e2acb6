-- Settlement bookkeeping (issue 6): calibrations, period close/reopen, what a closed month recorded.
-- Idempotent: applied by db.init_warehouse on every start.

-- One row per settlement year: the parameters and scheme version its stored calibration used.
create table if not exists audit.calibrations (
    settlement_year  integer primary key,
    run_id           bigint not null,
    scheme_version   text not null,
    parameters       jsonb not null,
    parameter_hash   text not null,
    drg_count        integer not null,
    all_mean_cost    numeric,
    calibrated_at    timestamptz not null default now()
);

-- Settlement periods: 'YYYY-MM' (monthly pre-settlement) or 'YYYY' (annual settlement).
create table if not exists audit.periods (
    period          text primary key check (period ~ '^[0-9]{4}(-[0-9]{2})?$'),
    status          text not null default 'open' check (status in ('open', 'closed')),
    settle_run_id   bigint,            -- the settle run whose figures the close froze
    closed_at       timestamptz,
    closed_by       text,
    updated_at      timestamptz not null default now()
);

-- Every close and reopen, with its reason (a reopen must give one).
create table if not exists audit.period_events (
    event_id   bigserial primary key,
    period     text not null,
    action     text not null check (action in ('close', 'reopen')),
    reason     text,
    run_id     bigint,
    at         timestamptz not null default now(),
    by_user    text not null default current_user,
    check (action = 'close' or nullif(btrim(reason), '') is not null)
);

-- The case points a closed month was settled with (annual adjustments are measured against these).
create table if not exists audit.closed_period_cases (
    period       text not null,
    hospital_id  text not null,
    case_id      text not null,
    region_code  text,
    batch_id     bigint,
    source_row   bigint,
    case_type    text,
    points       numeric(18, 4),
    primary key (period, hospital_id, case_id)
);

-- Input batches and row counts of each run (audit.runs holds the totals).
create table if not exists audit.run_inputs (
    run_id     bigint not null,
    input      text not null,
    batch_id   bigint not null,
    row_count  bigint not null,
    primary key (run_id, input, batch_id)
);

-- Guard on the settlement marts: rows of a closed period can be neither changed nor deleted, whoever runs dbt.
create or replace function audit.refuse_closed_period_change() returns trigger
language plpgsql as $$
declare
    p text;
begin
    -- separate statements: plpgsql resolves old.<field> only when the statement runs
    if tg_argv[0] = 'year' then
        p := old.settlement_year::text;
    else
        p := old.period;
    end if;
    if exists (select 1 from audit.periods where period = p and status = 'closed') then
        raise exception 'period % is closed: its settlement rows are immutable (drgflow reopen --period % --reason ...)', p, p;
    end if;
    if tg_op = 'DELETE' then
        return old;
    end if;
    return new;
end $$;
