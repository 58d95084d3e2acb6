-- dip-spec §3: the catalogue (病种库) of settlement year Y that grouping and scoring use, from the source the
-- year's catalogue_source names: `import` (ref.dip_catalogue_published, `drgflow dip catalogue import`) or
-- `local` (built from the base period, int_dip_catalogue_built). A core code listed in dip_basic_groups.csv for
-- Y becomes `basic` (§3.3). Grain: one row per code. related: the related procedures as an array (for ⊆ tests).
-- tiebreak: what decides between candidates with as many related procedures (§4 step 2): the score, or for a
-- local catalogue the selection mean (which exists before any score).
{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}

with params as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

basic as (
    select b.code from {{ ref('stg_raw__dip_basic_groups') }} as b
    inner join params as p on p.settlement_year = b.settlement_year
),

imported as (
    select
        g.code, g.published_code, 'import' as source, g.group_type, g.dx_key, g.main_px, g.related_px, g.class,
        g.score, g.mean_cost, g.n, g.cv, g.mean_los, g.reference_mean, g.score as tiebreak
    from {{ ref('stg_dip_ref__catalogue_published') }} as g
    inner join params as p on p.settlement_year = g.settlement_year and p.catalogue_source = 'import'
),

built as (
    -- a local build: statistics and scores come from the base period after grouping (int_dip_group_scores)
    select
        g.code, g.code as published_code, 'local' as source, g.group_type, g.dx_key, g.main_px, g.related_px,
        g.class, null::numeric as score, null::numeric as mean_cost, null::integer as n, null::numeric as cv,
        null::numeric as mean_los, null::numeric as reference_mean, g.selection_mean as tiebreak
    from {{ ref('int_dip_catalogue_built') }} as g
    cross join params as p
    where p.catalogue_source = 'local'
),

chosen as (
    select * from imported
    union all
    select * from built
)

select
    p.settlement_year,
    g.code,
    g.published_code,
    g.source,
    case when g.group_type = 'core' and b.code is not null then 'basic' else g.group_type end as group_type,
    g.dx_key,
    g.main_px,
    g.related_px,
    coalesce(string_to_array(nullif(g.related_px, ''), '+'), '{}')::text[] as related,
    g.class,
    g.score,
    g.mean_cost,
    g.n,
    g.cv,
    g.mean_los,
    g.reference_mean,
    g.tiebreak
from chosen as g
cross join params as p
left join basic as b on b.code = g.code
