-- DIP (按病种分值付费) reference data: catalogues (病种库) imported from a city's published file, one per
-- settlement year (`drgflow dip catalogue import FILE --year Y`, dip-spec §3.3). A local build (§3.4) is a dbt
-- model; marts.dip_catalogue publishes whichever the year's catalogue_source names.

-- one row per imported catalogue: the file it came from and its reference mean cost M (the cost of 1000 points)
create table if not exists ref.dip_catalogue_imports (
    settlement_year integer primary key check (settlement_year between 1900 and 2999),
    layout          text not null,
    source_file     text not null,
    file_sha256     text not null,
    reference_mean  numeric not null check (reference_mean > 0),
    groups          integer not null,
    imported_at     timestamptz not null default now(),
    imported_by     text not null default current_user
);

-- the groups of 目录 with their 中间结果 statistics; code = the published code normalised (dip-spec §2.1)
create table if not exists ref.dip_catalogue_published (
    settlement_year  integer not null references ref.dip_catalogue_imports on delete cascade,
    code             text not null,
    published_code   text not null,
    group_type       text not null check (group_type in ('core', 'comprehensive')),
    dx_key           text not null,
    main_px          text,
    related_px       text not null default '',
    class            text check (class in ('SS', 'ZLXCZ', 'ZDXCZ', 'BSZL')),
    score            numeric not null check (score > 0),
    mean_cost        numeric,
    n                integer,
    cv               numeric,
    mean_los         numeric,
    -- stored, never used in a formula (dip-spec §3.3)
    discuss_flag     integer,
    upper_limit_reduction numeric,
    data_year        integer,
    source_row       integer not null,
    primary key (settlement_year, code)
);

-- 中间结果 rows without a 目录 row (CPnn 未入组病例的分组, KBBZ, U07:*): kept, never matched (dip-spec §3.3)
create table if not exists ref.dip_catalogue_extra (
    settlement_year  integer not null references ref.dip_catalogue_imports on delete cascade,
    published_code   text not null,
    score            numeric,
    mean_cost        numeric,
    n                integer,
    remark           text,
    source_row       integer not null,
    primary key (settlement_year, source_row)
);

-- The DIP code maps of the run (int_dip_code_maps, a dbt model: variant maps as the files write them, the valid
-- principal diagnoses, the procedures' simple flags and classes) as jsonb constants of a query plan: the function
-- is evaluated once when a statement is planned, so the per-case lookups run in parallel workers without joins.
-- The table is the dbt model's; the body is checked only when called (it may not exist yet when this is created).
set check_function_bodies = off;
create or replace function ref.dip_code_map(kind text) returns jsonb
language sql immutable parallel safe as $$
    select coalesce((select m.code_map from intermediate.int_dip_code_maps as m where m.kind = dip_code_map.kind),
                    '{}'::jsonb)
$$;
reset check_function_bodies;

-- The slow path of a case's procedures (dip-spec §2.2), for the few cases the fast test of int_dip_cases_coded
-- does not pass (a variant, a code outside the catalogue, a simple code, a repeat, lower case): the codes mapped
-- once through `variant` and upper-cased, those in `known` and not in `dropped` kept at their first position, in
-- order, '|'-joined. Functions, not subqueries, so they run in parallel workers.
create or replace function ref.dip_kept_procedures(codes text[], variant jsonb, known jsonb, dropped jsonb)
returns text
language sql immutable parallel safe as $$
    select coalesce(string_agg(f.code, '|' order by f.pos), '')
    from (
        select distinct on (m.code) m.code, m.pos
        from (select upper(coalesce(variant ->> u.code, u.code)) as code, u.pos
              from unnest(codes) with ordinality as u (code, pos)) as m
        where known ? m.code and not dropped ? m.code
        order by m.code, m.pos
    ) as f
$$;

-- how many of a case's procedure codes, mapped once and upper-cased, are not in `known` (px_dropped)
create or replace function ref.dip_unknown_count(codes text[], variant jsonb, known jsonb) returns integer
language sql immutable parallel safe as $$
    select count(*)::integer from unnest(codes) as u (code)
    where not known ? upper(coalesce(variant ->> u.code, u.code))
$$;

-- codes in byte order (r_i)
create or replace function ref.codes_sorted(codes text[]) returns text[]
language sql immutable parallel safe as $$
    select coalesce(array_agg(u.code order by u.code collate "C"), '{}') from unnest(codes) as u (code)
$$;
