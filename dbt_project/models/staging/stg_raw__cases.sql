-- Typed cases: the latest accepted version of each (hospital_id, case_id) (settlement-spec §1, §8).
-- Rows that failed a reject rule are left out; a later accepted resubmission supersedes an earlier one.
-- Reads the parsed rows of stg_raw__cases_typed (each batch parsed once, when dbt first sees it).
-- "Latest" without a sort: `superseded` pairs each accepted row with a later accepted version of the same
-- case by a hash join on the key columns only (the few resubmitted rows come out), and the wide rows are
-- then anti-joined to that short list.
with accepted as not materialized (
    select t.*
    from {{ ref('stg_raw__cases_typed') }} as t
    where not exists (
        select 1 from {{ source('audit', 'quarantine') }} as q
        where q.batch_id = t.batch_id and q.source_row = t.source_row and q.severity = 'reject'
    )
),

superseded as not materialized (
    select o.batch_id, o.source_row
    from accepted as o
    join accepted as n
      on n.hospital_id = o.hospital_id and n.case_id = o.case_id
     and (n.batch_id, n.source_row) > (o.batch_id, o.source_row)
)

select a.*
from accepted as a
where not exists (select 1 from superseded as s where s.batch_id = a.batch_id and s.source_row = a.source_row)
