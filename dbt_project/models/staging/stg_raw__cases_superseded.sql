-- The case rows a later accepted version replaces (settlement-spec §1, §8): the key (batch_id, source_row) of
-- every accepted row with a later accepted row of the same (hospital_id, case_id), later meaning a later batch,
-- or a later row of the same batch. Usually a few rows.
-- A small table of its own, analyzed, rather than a CTE of stg_raw__cases: the planner then knows how few rows
-- there are, and leaves them out of the million typed rows by a hash of this table in each parallel worker. As a
-- CTE it hashed the typed rows instead and let one process emit every row (PostgreSQL's parallel right anti
-- join), which kept the code mapping after it in that one process.
-- Marker rows (batch_id 0, source_row N) record each batch N this table considered: stg_raw__cases compares the
-- rows of any other batch (validated after this table was built, before the next dbt run) directly, so no case
-- counts twice in between. Batch ids start at 1, so a marker never matches a case row.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"],
          pre_hook=["set local max_parallel_workers_per_gather = {{ grouping_workers() }}"]) }}

with accepted as not materialized (
    select hospital_id, case_id, batch_id, source_row
    from {{ ref('stg_raw__cases_typed') }}
    where not rejected
)

select
    o.batch_id,
    o.source_row
from accepted as o
inner join accepted as n
    on
        n.hospital_id = o.hospital_id and n.case_id = o.case_id
        and (n.batch_id, n.source_row) > (o.batch_id, o.source_row)
group by o.batch_id, o.source_row

union all

select distinct
    0::bigint as batch_id,
    a.batch_id as source_row
from accepted as a
