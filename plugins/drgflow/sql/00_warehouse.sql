-- Warehouse schemas and the tables owned by the loader (idempotent; dbt owns staging/intermediate/marts).
create schema if not exists raw;
create schema if not exists audit;
create schema if not exists ref;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;

-- One row per loaded file (output contract: audit.batches).
create table if not exists audit.batches (
    batch_id          bigserial primary key,
    file_name         text not null,
    file_path         text,
    sha256            text not null,
    file_kind         text not null,
    source_encoding   text not null,
    rows_read         bigint not null default 0,
    rows_accepted     bigint not null default 0,
    rows_quarantined  bigint not null default 0,
    rows_warned       bigint not null default 0,
    status            text not null default 'loaded',   -- loaded | validated
    loaded_at         timestamptz not null default now(),
    validated_at      timestamptz,
    loaded_by         text not null default current_user
);
create unique index if not exists batches_sha256_kind on audit.batches (sha256, file_kind);
-- true: the load asked for validation, so the batch counts only once its validation completed (a killed
-- validation leaves it 'loaded' and out of staging until a rerun finishes it); false: loaded with
-- --no-validate on purpose; null: loaded before this column (counted as before)
alter table audit.batches add column if not exists validation_requested boolean;

-- The fingerprint of the pseudonym key the warehouse's patient ids were made with (one row): a load with
-- another key would give the same patient another pseudonym, so the loader refuses it.
create table if not exists audit.pseudonym_key (
    one          boolean primary key default true check (one),
    fingerprint  text not null,
    first_batch  bigint,
    recorded_at  timestamptz not null default now()
);

-- Rows that failed a rule (output contract: audit.quarantine); reject rows never reach staging.
create table if not exists audit.quarantine (
    batch_id     bigint not null references audit.batches (batch_id),
    source_row   bigint not null,
    rule         text not null,
    hospital_id  text,
    case_id      text,
    severity     text not null,          -- reject | warn
    message      text not null,
    raw_record   jsonb,
    resolved_at  timestamptz,
    resolved_by_batch bigint,
    primary key (batch_id, source_row, rule)
);
create index if not exists quarantine_case on audit.quarantine (hospital_id, case_id);

-- Every pipeline run (load, group, calibrate, settle, close …) with its parameters and counts.
create table if not exists audit.runs (
    run_id       bigserial primary key,
    command      text not null,
    period       text,
    scheme_version text,
    parameters   jsonb not null default '{}'::jsonb,
    parameter_hash text,
    row_counts   jsonb not null default '{}'::jsonb,
    status       text not null default 'running',      -- running | success | failed
    message      text,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    run_by       text not null default current_user
);

-- Serial numbers of rows inside the batch being loaded (reset per batch under the load lock).
-- A load takes a million numbers in one session: cached in blocks, nextval rarely touches the sequence page
-- (1M rows load ~0.2 s faster). The numbers stay consecutive within the load: each load sets the sequence
-- back to 1 first (setval also drops that session's cached block), and loads run one at a time.
create sequence if not exists raw.source_row_seq cache 1000;
-- upgrade of a warehouse from before the cache (altered only then: this file runs at every start-up)
do $$
begin
    if (select seqcache from pg_sequence where seqrelid = 'raw.source_row_seq'::regclass) <> 1000 then
        alter sequence raw.source_row_seq cache 1000;
    end if;
end $$;

