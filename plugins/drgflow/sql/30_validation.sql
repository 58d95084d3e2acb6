-- Case validation (drgflow.validation): helpers and the per-batch rule tallies (idempotent).

-- An ISO calendar date (YYYY-MM-DD, year 1900-2099) or null. Plain SQL, no exception block: a
-- plpgsql handler would open a subtransaction per value, far too slow for a million rows.
create or replace function audit.parse_date(value text) returns date
language sql immutable parallel safe as $$
    select case when btrim(value) ~ '^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' then
        case when substr(btrim(value), 9, 2)::integer <= extract(day from
                  make_date(substr(btrim(value), 1, 4)::integer, substr(btrim(value), 6, 2)::integer, 1)
                  + interval '1 month - 1 day')
             then btrim(value)::date end
    end
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
