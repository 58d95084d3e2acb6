-- Reference tables of the grouper (idempotent). Filled by `drgflow terminology import` and
-- `drgflow scheme import`; read by the dbt models under models/intermediate/grouping.
-- Every scheme table is keyed by scheme_version so several versions live side by side.

-- Terminology (医保版 2.0 catalogues) and variant spellings -> catalogue code.
create table if not exists ref.dx_catalogue   (code text primary key, name text not null);
create table if not exists ref.px_catalogue   (code text primary key, name text not null);
create table if not exists ref.dx_variant_map (variant text primary key, code text not null);
create table if not exists ref.px_variant_map (variant text primary key, code text not null);

-- One row per imported scheme version, with its switches and the import report.
create table if not exists ref.scheme_version (
    scheme_version text primary key,
    source_path    text not null,
    qy_enabled     boolean not null,
    n_mdc          integer not null,
    n_adrg         integer not null,
    n_drg          integer not null,
    source_sha256  text not null,
    report         jsonb not null default '{}'::jsonb,
    imported_at    timestamptz not null default now()
);

-- MDC with its order and entry conditions (supplementary rules, entry_rules.yml).
create table if not exists ref.scheme_mdc (
    scheme_version  text not null references ref.scheme_version on delete cascade,
    mdc             text not null,
    name            text not null,
    mdc_order       integer not null,
    principal_px_or boolean not null,     -- entry by an operating-room principal procedure (MDCA)
    age_years_max   integer,              -- MDCP: age in years <= this
    sex             integer,              -- MDCM 1, MDCN 2
    min_regions     integer,              -- MDCZ: diagnoses in >= this many body regions
    primary key (scheme_version, mdc)
);

-- MDC principal-diagnosis lists; region = body-region section (MDCZ), else null.
create table if not exists ref.scheme_mdc_dx (
    scheme_version text not null references ref.scheme_version on delete cascade,
    mdc            text not null,
    code           text not null,
    region         text,
    primary key (scheme_version, code, mdc)
);

create table if not exists ref.scheme_adrg (
    scheme_version text not null references ref.scheme_version on delete cascade,
    adrg           text not null,
    mdc            text not null,
    name           text not null,
    kind           text not null,          -- surgical | non_or | medical
    rule_text      text not null,          -- the section titles, for the trace
    age_days_min   integer,
    age_days_max   integer,
    weight_min     integer,
    weight_max     integer,
    primary key (scheme_version, adrg)
);

-- ADRG rule = OR over alt_no of AND over conditions (see drgflow/schemes/rules.py).
create table if not exists ref.scheme_adrg_cond (
    scheme_version text not null references ref.scheme_version on delete cascade,
    adrg           text not null,
    alt_no         integer not null,
    cond_no        integer not null,
    cond_kind      text not null,          -- pdx | ppx | any_dx | any_px | ppx_or | no_ppx_or
    list_no        integer,
    primary key (scheme_version, adrg, cond_no)
);

create table if not exists ref.scheme_adrg_code (
    scheme_version text not null references ref.scheme_version on delete cascade,
    adrg           text not null,
    list_no        integer not null,
    code           text not null,
    primary key (scheme_version, adrg, list_no, code)
);
create index if not exists scheme_adrg_code_code on ref.scheme_adrg_code (scheme_version, code);

create table if not exists ref.scheme_drg (
    scheme_version text not null references ref.scheme_version on delete cascade,
    drg            text not null,
    adrg           text not null,
    name           text not null,
    split_digit    text not null,
    cc_rule        text not null,          -- mcc | mcc_or_cc | any
    drg_order      integer not null,
    primary key (scheme_version, drg)
);

-- MCC / CC diagnoses with the exclusion table (表 7-N) they are subject to (null = 无).
create table if not exists ref.scheme_cc (
    scheme_version text not null references ref.scheme_version on delete cascade,
    code           text not null,
    cc_level       text not null,          -- mcc | cc
    excl_table     integer,
    primary key (scheme_version, code)
);

-- Exclusion tables: principal diagnoses that cancel an MCC/CC of the same table.
-- Primary key on (version, code): the tables must partition the principal diagnoses.
create table if not exists ref.scheme_cce (
    scheme_version text not null references ref.scheme_version on delete cascade,
    excl_table     integer not null,
    code           text not null,
    primary key (scheme_version, code)
);

-- Operating-room procedures that count as surgery (SS_VALID).
create table if not exists ref.scheme_ss_valid (
    scheme_version text not null references ref.scheme_version on delete cascade,
    code           text not null,
    primary key (scheme_version, code)
);
