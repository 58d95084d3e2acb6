-- Case validation (drgflow.validation): helpers and the per-batch rule tallies (idempotent).

-- Typed values from raw text, NULL when empty or not parseable. pg_input_is_valid (PostgreSQL 16) is
-- several times faster than regular expressions and opens no subtransaction; translate() first limits
-- the accepted characters, since the type input functions also take forms the contract does not
-- ('0x1F', '1_000', '1e5', 'NaN', 'today', '20240305'). STABLE (not IMMUTABLE) so the planner inlines them.
create or replace function audit.parse_int(value text) returns integer
language sql stable parallel safe as $$
    select case when translate(value, '0123456789+- ', '') = '' and pg_input_is_valid(value, 'integer')
                then value::integer end
$$;

create or replace function audit.parse_money(value text, decimals integer default 2) returns numeric
language sql stable parallel safe as $$
    select case when translate(value, '0123456789.+- ', '') = '' and pg_input_is_valid(value, 'numeric(18,2)')
                     and (strpos(value, '.') = 0 or length(rtrim(value)) - strpos(value, '.') <= decimals)
                then value::numeric(18, 2) end
$$;

-- ISO YYYY-MM-DD, a real calendar day, year 1900-2099.
create or replace function audit.parse_date(value text) returns date
language sql stable parallel safe as $$
    select case when length(btrim(value)) = 10 and translate(value, '0123456789- ', '') = ''
                     and substr(btrim(value), 5, 1) = '-' and substr(btrim(value), 8, 1) = '-'
                     and left(btrim(value), 2) in ('19', '20') and pg_input_is_valid(value, 'date')
                then value::date end
$$;

-- One row per (batch, rule): how many rows failed it; status 'skipped' says why a rule could not run.
create table if not exists audit.rule_results (
    batch_id      bigint not null references audit.batches (batch_id),
    rule          text not null,
    severity      text not null,            -- reject | warn
    status        text not null,            -- checked | skipped
    rows_checked  bigint not null,
    rows_failed   bigint not null,
    note          text,
    catalogue_version text not null,
    primary key (batch_id, rule)
);

-- One row per validation of a batch: catalogue version, Great Expectations outcome, Data Docs page.
create table if not exists audit.validation_runs (
    batch_id          bigint primary key references audit.batches (batch_id),
    catalogue_version text not null,
    gx_success        boolean,
    data_docs         text,
    seconds           numeric,
    validated_at      timestamptz not null default now()
);

-- Lookups of the validation in progress (refilled under the validation lock; unlogged: scratch data
-- that must stay visible to parallel workers, which temp tables are not).
create unlogged table if not exists audit.rule_sex_dx (code text primary key, sex integer not null);
create unlogged table if not exists audit.rule_cost_ref (year integer, grp text, p numeric);
