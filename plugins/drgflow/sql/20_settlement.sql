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

-- The whole case_points row (and its MDC, ADRG, CC level) as the close recorded it: a closed month's statement is
-- built from these, not from case_points, which a later annual run rebuilds with the cases' current versions.
alter table audit.closed_period_cases add column if not exists case_row jsonb;

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

-- Closed periods are immutable for every service role (issue 18 #15). The row triggers above refuse updates and
-- deletes; these refuse the other ways around them.
-- TRUNCATE skips row triggers: refused while the table holds rows of a closed period.
create or replace function audit.refuse_closed_period_truncate() returns trigger
language plpgsql as $$
declare
    closed_rows boolean;
begin
    execute format('select exists (select 1 from %s as t join audit.periods as p on p.period = %s'
                   ' and p.status = ''closed'')', tg_relid::regclass,
                   case when tg_argv[0] = 'year' then 't.settlement_year::text' else 't.period' end)
        into closed_rows;
    if closed_rows then
        raise exception '% holds rows of a closed period: it cannot be truncated (drgflow reopen --period ... --reason ...)',
            tg_relid::regclass;
    end if;
    return null;
end $$;

-- A closed period is reopened only with a logged reason: the update that reopens it needs a 'reopen' event
-- with a reason written in the same transaction (drgflow reopen writes the event first).
alter table audit.period_events add column if not exists txid bigint default txid_current();
create or replace function audit.require_logged_reopen() returns trigger
language plpgsql as $$
begin
    if old.status = 'closed' and new.status <> 'closed' and not exists (
        select 1 from audit.period_events as e
        where e.period = new.period and e.action = 'reopen' and e.txid = txid_current()
          and nullif(btrim(e.reason), '') is not null) then
        raise exception 'period % is closed: reopen it with drgflow reopen --period % --reason ... (the reason is logged)',
            new.period, new.period;
    end if;
    return new;
end $$;
create or replace trigger periods_reopen_logged before update on audit.periods
    for each row execute function audit.require_logged_reopen();

-- What a closed month was settled with stays as recorded while the month is closed (the settlement marts' guard).
create or replace trigger closed_period_cases_frozen before update or delete on audit.closed_period_cases
    for each row execute function audit.refuse_closed_period_change('month');
drop function if exists audit.refuse_closed_cases_change();

-- The table owner (the transformer, which builds the marts) could otherwise disable or drop the guards, or
-- drop a table holding closed rows: an event trigger (superuser only; skipped, with the docs saying so, where
-- the admin is not one) checks after every such command that every settlement mart holding rows of a closed
-- period still has its guards enabled.
create or replace function audit.keep_closed_period_guards() returns event_trigger
language plpgsql security definer set search_path = pg_catalog as $$
declare
    t record;
    closed_rows boolean;
begin
    -- only commands on the marts matter (the loader alters its own work tables in audit)
    if not exists (select 1 from pg_event_trigger_ddl_commands() as d where d.schema_name = 'marts') then
        return;
    end if;
    for t in select c.oid::regclass as rel, x.kind
             from (values ('settlement_monthly', 'period'), ('settlement_annual', 'settlement_year::text'))
                  as x (relname, kind)
             join pg_class as c on c.relname = x.relname
             join pg_namespace as n on n.oid = c.relnamespace and n.nspname = 'marts' loop
        execute format('select exists (select 1 from %s as t join audit.periods as p on p.period = t.%s'
                       ' and p.status = ''closed'')', t.rel, t.kind) into closed_rows;
        -- both guards present (init adds the truncate guard to tables from before it) and none disabled
        if closed_rows and (select count(*) filter (where g.tgenabled <> 'D') <> 2 or count(*) <> 2
                            from pg_trigger as g
                            where g.tgrelid = t.rel
                              and g.tgfoid in ('audit.refuse_closed_period_change'::regproc,
                                               'audit.refuse_closed_period_truncate'::regproc)) then
            raise exception '% holds rows of a closed period: its closed-period guards stay enabled', t.rel;
        end if;
    end loop;
end $$;
create or replace function audit.refuse_closed_mart_drop() returns event_trigger
language plpgsql security definer set search_path = pg_catalog as $$
begin
    -- a settlement mart, or one of its closed-period guards (named <table>_closed…)
    -- (a dropped trigger has no schema_name: its identity reads "<name> on <schema>.<table>")
    if exists (select 1 from pg_event_trigger_dropped_objects() as d
               where (d.object_type = 'table' and d.schema_name = 'marts'
                      and d.object_name in ('settlement_monthly', 'settlement_annual'))
                  or (d.object_type = 'trigger'
                      and d.object_identity ~ '^settlement_(monthly|annual)_closed\S* on marts\.settlement_'))
       and exists (select 1 from audit.periods where status = 'closed') then
        raise exception 'the settlement marts hold closed periods: they and their guards cannot be dropped';
    end if;
end $$;
do $$
declare
    t record;
begin
    -- settlement marts built before the truncate guard get it (the row guard is added by every settle)
    for t in select x.relname, x.kind from (values ('settlement_monthly', 'month'), ('settlement_annual', 'year'))
                  as x (relname, kind)
             where to_regclass('marts.' || x.relname) is not null
               and not exists (select 1 from pg_trigger as g where g.tgrelid = to_regclass('marts.' || x.relname)
                               and g.tgname = x.relname || '_closed_truncate') loop
        execute format('create trigger %I before truncate on marts.%I for each statement'
                       ' execute function audit.refuse_closed_period_truncate(%L)',
                       t.relname || '_closed_truncate', t.relname, t.kind);
    end loop;
    if (select rolsuper from pg_roles where rolname = current_user) then
        -- recreated at every start, so that a changed tag list reaches warehouses from before
        drop event trigger if exists drgflow_keep_closed_period_guards;
        create event trigger drgflow_keep_closed_period_guards on ddl_command_end
            when tag in ('ALTER TABLE')
            execute function audit.keep_closed_period_guards();
        drop event trigger if exists drgflow_refuse_closed_mart_drop;
        create event trigger drgflow_refuse_closed_mart_drop on sql_drop
            when tag in ('DROP TABLE', 'DROP SCHEMA', 'DROP TRIGGER')
            execute function audit.refuse_closed_mart_drop();
    end if;
end $$;
