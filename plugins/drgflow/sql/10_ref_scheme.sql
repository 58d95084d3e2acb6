-- Reference tables of the grouper (idempotent). Filled by `drgflow terminology import` and
-- `drgflow scheme import`; read by the dbt models under models/intermediate/grouping.
-- Every scheme table is keyed by scheme_version so several versions live side by side.

-- Terminology (医保版 2.0 catalogues) and variant spellings -> catalogue code.
create table if not exists ref.dx_catalogue   (code text primary key, name text not null);
create table if not exists ref.px_catalogue   (code text primary key, name text not null);
create table if not exists ref.dx_variant_map (variant text primary key, code text not null);
create table if not exists ref.px_variant_map (variant text primary key, code text not null);
-- listed_code: the code the map file names for this variant (null: the file does not list it). `code` is what the
-- grouper uses (a catalogue code is never remapped there); DIP applies the file's map as written (dip-spec §12).
alter table ref.dx_variant_map add column if not exists listed_code text;
alter table ref.px_variant_map add column if not exists listed_code text;

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

-- CHS-DRG 2.0 and later: diagnoses that may not be the principal diagnosis (zd_invalid; such a case is ungroupable)
-- and the procedures that do not count as operating-room procedures (ss_invalid), when a pack lists those
-- instead of the ones that do (scheme_version.non_or_listed).
create table if not exists ref.scheme_dx_invalid (
    scheme_version text not null references ref.scheme_version on delete cascade,
    code           text not null,
    primary key (scheme_version, code)
);
create table if not exists ref.scheme_px_non_or (
    scheme_version text not null references ref.scheme_version on delete cascade,
    code           text not null,
    primary key (scheme_version, code)
);
-- non_or_listed: every procedure not in scheme_px_non_or is an operating-room procedure, and the non-OR ones are
-- dropped from a case's procedures before grouping (the principal procedure is its first OR procedure)
alter table ref.scheme_version add column if not exists non_or_listed boolean not null default false;
-- any_dx: the MDC is entered when any diagnosis is on its list (2.0 MDCY); without_list: the MDC has no list and
-- is entered on its conditions alone (2.0 MDCP: age), its ADRGs' rules decide
alter table ref.scheme_mdc add column if not exists any_dx boolean not null default false;
alter table ref.scheme_mdc add column if not exists without_list boolean not null default false;

-- The grouping scheme each settlement year uses, as the bureau assigns it (`drgflow scheme assign VERSION
-- --from-year Y`): the row with the greatest effective_from_year <= Y is in force; it overrides the policy seed's
-- scheme_version. No foreign key to scheme_version: re-importing a version replaces that row.
create table if not exists ref.scheme_years (
    effective_from_year integer primary key check (effective_from_year between 1900 and 2999),
    scheme_version      text not null,
    assigned_at         timestamptz not null default now(),
    assigned_by         text not null default current_user,
    note                text
);

-- The code maps of a scheme version as jsonb objects, read by int_cases_codes_mapped.
-- kind: 'dx' | 'px' (variant or scheme code -> code the grouper uses), 'dx_same' | 'px_same' (the codes the
-- map leaves as they are), 'or' (operating-room procedures, SS_VALID), 'non_or' (procedures that are not, 2.0
-- ss_invalid), 'dx_invalid' (diagnoses that may not be principal, 2.0 zd_invalid), 'mdc' (principal diagnosis -> the MDCs
-- whose list holds it, as ',B,F,'), 'region' ('<MDC>:<code>' -> body region, for MDCs entered by regions: MDCZ).
-- Codes the scheme itself lists are grouped as coded, never remapped (the pack has a few non-catalogue
-- codes, e.g. P78.300x004 on the MDCP list, that the variant map sends elsewhere).
create or replace function ref.build_grouping_code_map(kind text, version text) returns jsonb
language sql stable parallel safe as $$
    with scheme_dx as (
        select code from ref.scheme_mdc_dx where scheme_version = version
        union select code from ref.scheme_adrg_code where scheme_version = version
        union select code from ref.scheme_cc where scheme_version = version
        union select code from ref.scheme_cce where scheme_version = version
        union select code from ref.scheme_dx_invalid where scheme_version = version
    ),
    scheme_px as (
        select code from ref.scheme_adrg_code where scheme_version = version
        union select code from ref.scheme_ss_valid where scheme_version = version
        union select code from ref.scheme_px_non_or where scheme_version = version
    ),
    pairs as (
        select m.variant, m.code from ref.dx_variant_map as m
        where kind in ('dx', 'dx_same') and m.variant not in (select code from scheme_dx)
        union all
        select code, code from scheme_dx where kind in ('dx', 'dx_same')
        union all
        select m.variant, m.code from ref.px_variant_map as m
        where kind in ('px', 'px_same') and m.variant not in (select code from scheme_px)
        union all
        select code, code from scheme_px where kind in ('px', 'px_same')
        union all
        select code, code from ref.scheme_ss_valid where kind = 'or' and scheme_version = version
        union all
        select code, code from ref.scheme_px_non_or where kind = 'non_or' and scheme_version = version
        union all
        select code, code from ref.scheme_dx_invalid where kind = 'dx_invalid' and scheme_version = version
    )
    select case kind
        when 'mdc' then (
            select coalesce(jsonb_object_agg(code, mdcs), '{}'::jsonb)
            from (select code, ',' || string_agg(mdc, ',' order by mdc) || ',' as mdcs
                  from ref.scheme_mdc_dx where scheme_version = version group by code) as listed)
        when 'region' then (
            select coalesce(jsonb_object_agg(d.mdc || ':' || d.code, d.region), '{}'::jsonb)
            from ref.scheme_mdc_dx as d
            join ref.scheme_mdc as m on m.scheme_version = d.scheme_version and m.mdc = d.mdc
            where d.scheme_version = version and m.min_regions is not null and d.region is not null)
        else (
            select coalesce(jsonb_object_agg(variant, case when kind like '%\_same' or kind in ('or', 'non_or', 'dx_invalid')
                                                           then 'true'::jsonb
                                                           else to_jsonb(code) end), '{}'::jsonb)
            from pairs
            where kind not like '%\_same' or variant = code)
    end
$$;

-- the maps built once per import (a map takes ~0.1 s to build, and a grouping query uses it a dozen times)
create table if not exists ref.grouping_code_maps (
    scheme_version text not null references ref.scheme_version on delete cascade,
    kind           text not null,
    code_map       jsonb not null,
    primary key (scheme_version, kind)
);

-- the kinds of map build_grouping_code_map makes, each stored per scheme version
create or replace function ref.grouping_code_map_kinds() returns text[]
language sql immutable parallel safe as $$
    select array['dx', 'dx_same', 'px', 'px_same', 'or', 'non_or', 'dx_invalid', 'mdc', 'region']
$$;

-- rebuilt by `drgflow scheme import` (its version) and `drgflow terminology import` (every version)
create or replace function ref.refresh_grouping_code_maps(version text default null) returns void
language sql volatile as $$
    delete from ref.grouping_code_maps where version is null or scheme_version = version;
    insert into ref.grouping_code_maps (scheme_version, kind, code_map)
    select s.scheme_version, k.kind, ref.build_grouping_code_map(k.kind, s.scheme_version)
    from ref.scheme_version as s
    cross join unnest(ref.grouping_code_map_kinds()) as k (kind)
    where version is null or s.scheme_version = version;
$$;

-- upgrade: a version imported before a kind of map existed gets the missing kinds (built on the fly otherwise,
-- at every plan of every grouping statement)
select ref.refresh_grouping_code_maps(s.scheme_version)
from ref.scheme_version as s
where not array(select m.kind from ref.grouping_code_maps as m where m.scheme_version = s.scheme_version)
          @> ref.grouping_code_map_kinds();

-- IMMUTABLE although it reads tables, on purpose: called with constant arguments it is evaluated once, while
-- the query is planned, and the map travels in the plan as a constant, which parallel workers receive (a map
-- built by an InitPlan or a CTE keeps the whole query in one process). This holds because the reference
-- tables change only by an import between dbt runs and no plan is kept across runs; nothing else may call it.
-- A warehouse whose maps were not built yet (imported before this table existed) builds them on the fly.
create or replace function ref.grouping_code_map(kind text, version text) returns jsonb
language sql immutable parallel safe as $$
    select coalesce((select m.code_map from ref.grouping_code_maps as m
                     where m.scheme_version = version and m.kind = grouping_code_map.kind),
                    ref.build_grouping_code_map(kind, version))
$$;

-- codes mapped through a code map, in their order; a code the map does not know is kept as it is
create or replace function ref.map_codes(codes text[], code_map jsonb) returns text[]
language sql immutable parallel safe as $$
    select coalesce(array_agg(coalesce(code_map ->> u.code, u.code) order by u.pos), '{}')
    from unnest(codes) with ordinality as u (code, pos)
$$;

-- the codes that are not keys of code_map, in their order: a case's procedures without the non-OR ones (2.0)
create or replace function ref.codes_not_in(codes text[], code_map jsonb) returns text[]
language sql immutable parallel safe as $$
    select coalesce(array_agg(u.code order by u.pos), '{}')
    from unnest(codes) with ordinality as u (code, pos)
    where not code_map ? u.code
$$;

-- the body regions (MDCZ) of a case's diagnoses on an MDC's region list, distinct and sorted, joined by the
-- control character U+001F (region names hold '、'); null when none. Text, not an array, so a model can
-- evaluate it once per case in a function scan (unnest(array[...]) of an array would flatten it).
create or replace function ref.body_regions(codes text[], region_map jsonb, mdc text) returns text
language sql immutable parallel safe as $$
    select string_agg(distinct region_map ->> (mdc || ':' || u.code), chr(31))
    from unnest(codes) as u (code)
    where region_map ? (mdc || ':' || u.code)
$$;

-- the codes a code map does not know, in their order; null when it knows them all
create or replace function ref.unknown_codes(codes text[], code_map jsonb) returns text[]
language sql immutable parallel safe as $$
    select array_agg(u.code order by u.pos) from unnest(codes) with ordinality as u (code, pos)
    where not code_map ? u.code
$$;
