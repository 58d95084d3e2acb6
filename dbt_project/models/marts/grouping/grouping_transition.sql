-- Transition report, migration matrix (issue 19): per settlement year and pair of scheme versions, how many
-- cases went from each group under the first version to each group under the second (ADRG and DRG; xQY and
-- 0000 included). Grain: (year, from_version, to_version, from_drg, to_drg).
select
    p.year,
    p.from_version,
    p.to_version,
    p.from_adrg,
    p.from_drg,
    p.to_adrg,
    p.to_drg,
    count(*)                                        as cases,
    sum(p.total_cost)                               as total_cost,
    coalesce(p.from_adrg, '') <> coalesce(p.to_adrg, '') as adrg_changed,
    p.from_drg <> p.to_drg                          as drg_changed
from {{ ref('int_case_groups_paired') }} as p
group by p.year, p.from_version, p.to_version, p.from_adrg, p.from_drg, p.to_adrg, p.to_drg
