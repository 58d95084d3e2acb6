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

-- A '|'-separated code list as an array, empty items removed; null when the field is null. Codes never
-- contain whitespace: dropping it is cheaper than a regular-expression split.
create or replace function audit.parse_code_list(value text) returns text[]
language sql stable parallel safe as $$
    select array_remove(string_to_array(translate(value, E' \t\r\n', ''), '|'), '')
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

-- Every case row of a validated batch, typed: validation parses each row once (audit.parse_*), and writes the
-- typed row here as staging reads it (staging.stg_raw__cases_typed is a view over this table), so dbt does not
-- parse the batch a second time. Logged: it is the only typed copy. A batch without a row in
-- audit.cases_typed_batches (loaded with --no-validate, or validated before this table existed) is parsed by
-- the staging view itself, with the same parsers.
create table if not exists audit.cases_typed (
    hospital_id text, case_id text, batch_id bigint not null, source_row bigint not null,
    region_code text, insurance_type text, patient_id text,
    sex integer, age_years integer, age_days integer, birth_weight_g integer,
    admit_date date, discharge_date date, los_days integer, discharge_way integer, dept_code text,
    dx_codes text[] not null, px_codes text[] not null, ventilator_hours integer,
    total_cost numeric, fund_paid numeric, personal_paid numeric,
    fee_bed numeric, fee_diagnosis numeric, fee_exam numeric, fee_lab numeric, fee_treatment numeric,
    fee_surgery numeric, fee_nursing numeric, fee_material numeric, fee_western_drug numeric, fee_herbal numeric,
    fee_chinese_patent numeric, fee_general_treatment numeric, fee_registration numeric, fee_other numeric,
    settle_date date, settle_year integer, settle_period text,
    -- a reject rule failed (the row is in audit.quarantine with severity reject): staging reads this flag
    -- rather than joining the quarantine
    rejected boolean not null
);
-- upgrade of a warehouse from before the flag: set it from the quarantine, once
do $$
begin
    if not exists (select 1 from information_schema.columns where table_schema = 'audit'
                   and table_name = 'cases_typed' and column_name = 'rejected') then
        alter table audit.cases_typed add column rejected boolean;
        update audit.cases_typed t set rejected = exists (
            select 1 from audit.quarantine q
            where q.batch_id = t.batch_id and q.source_row = t.source_row and q.severity = 'reject');
        alter table audit.cases_typed alter column rejected set not null;
    end if;
end $$;
-- batches arrive in id order, so a block range index finds one batch's rows (re-validation deletes them)
create index if not exists cases_typed_batch_brin on audit.cases_typed using brin (batch_id);
create table if not exists audit.cases_typed_batches (
    batch_id  bigint primary key references audit.batches (batch_id),
    rows      bigint not null,
    typed_at  timestamptz not null default now()
);
