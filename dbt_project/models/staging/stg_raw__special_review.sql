-- Special-review decisions (特病单议): the last row for a case wins; approved when approved_points is set (spec §8).
select distinct on (btrim(hospital_id), btrim(case_id))
    btrim(hospital_id)                              as hospital_id,
    btrim(case_id)                                  as case_id,
    round({{ to_numeric('approved_points') }}, 4)   as approved_points,
    nullif(btrim(approved_points), '') is not null  as approved,
    reason,
    batch_id
from {{ source('raw', 'special_review') }}
order by btrim(hospital_id), btrim(case_id), batch_id desc, source_row desc
