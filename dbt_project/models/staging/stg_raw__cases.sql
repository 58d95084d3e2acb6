-- Typed cases: the latest accepted version of each (hospital_id, case_id) (settlement-spec §1, §8).
-- Rows that failed a reject rule are left out (validation's flag on the typed row); a later accepted
-- resubmission supersedes an earlier one (stg_raw__cases_superseded lists the replaced rows).
-- The columns are those of the typed rows but the flag: read from audit.cases_typed's definition, which
-- stg_raw__cases_typed follows column for column.
{%- set columns = [] %}
{%- if execute %}
{%- for col in adapter.get_columns_in_relation(source('audit', 'cases_typed')) if col.name != 'rejected' %}
{%- do columns.append('t.' ~ col.name) %}
{%- endfor %}
{%- endif %}

select {{ columns | join(', ') if columns else 't.*' }}
from {{ ref('stg_raw__cases_typed') }} as t
where not t.rejected
  and not exists (
      select 1 from {{ ref('stg_raw__cases_superseded') }} as s
      where s.batch_id = t.batch_id and s.source_row = t.source_row
  )
  -- batches stg_raw__cases_superseded did not consider (its marker rows, batch 0, list those it did: a batch
  -- validated after the last dbt run) are compared here, so that no case counts twice in between
  and not exists (
      select 1 from {{ ref('stg_raw__cases_typed') }} as n
      where n.batch_id not in (
              select m.source_row from {{ ref('stg_raw__cases_superseded') }} as m where m.batch_id = 0)
        and not n.rejected
        and n.hospital_id = t.hospital_id and n.case_id = t.case_id
        and (n.batch_id, n.source_row) > (t.batch_id, t.source_row)
  )
