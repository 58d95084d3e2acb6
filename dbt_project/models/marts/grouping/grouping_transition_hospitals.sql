-- Transition report, per hospital and scheme version (issue 19): cases, 入组率 (grouped share) and QY / 0000
-- shares, and a case-mix index under each version. Grain: (year, from_version, to_version, hospital_id,
-- scheme_version). The CMI here is descriptive: each DRG's relative weight is its mean cost over the mean cost
-- of all grouped cases of the same year and version (no trimming, no base years), so that both versions are
-- weighted from the same cases; the settlement's own CMI (hospital_performance) uses the calibrated base
-- points of the settlement year's version.
with sides as (
    -- each pair of groupings as two rows, one per version
    select p.year, p.from_version, p.to_version, p.hospital_id, v.scheme_version, v.drg, v.group_status,
           p.total_cost
    from {{ ref('int_case_groups_paired') }} as p
    cross join lateral (values (p.from_version, p.from_drg, p.from_status),
                               (p.to_version, p.to_drg, p.to_status)) as v (scheme_version, drg, group_status)
),

weights as (
    select s.year, s.from_version, s.to_version, s.scheme_version, s.drg,
           avg(s.total_cost) as drg_mean
    from sides as s
    where s.group_status = 'grouped'
    group by s.year, s.from_version, s.to_version, s.scheme_version, s.drg
),

overall as (
    select s.year, s.from_version, s.to_version, s.scheme_version, avg(s.total_cost) as all_mean
    from sides as s
    where s.group_status = 'grouped'
    group by s.year, s.from_version, s.to_version, s.scheme_version
)

select
    s.year,
    s.from_version,
    s.to_version,
    s.hospital_id,
    s.scheme_version,
    count(*)                                                              as cases,
    count(*) filter (where s.group_status = 'grouped')                    as grouped,
    count(*) filter (where s.group_status = 'qy')                         as qy,
    count(*) filter (where s.group_status = 'ungroupable')                as ungroupable,
    round(count(*) filter (where s.group_status = 'grouped')::numeric / count(*), 6) as grouping_rate,
    count(distinct s.drg) filter (where s.group_status = 'grouped')       as drgs_used,
    round(avg(w.drg_mean / nullif(o.all_mean, 0)) filter (where s.group_status = 'grouped'), 4) as cmi
from sides as s
left join weights as w
  on w.year = s.year and w.from_version = s.from_version and w.to_version = s.to_version
 and w.scheme_version = s.scheme_version and w.drg = s.drg
left join overall as o
  on o.year = s.year and o.from_version = s.from_version and o.to_version = s.to_version
 and o.scheme_version = s.scheme_version
group by s.year, s.from_version, s.to_version, s.hospital_id, s.scheme_version
