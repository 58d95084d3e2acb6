-- Annual assessment score per hospital and year; the last row for a (hospital, year) wins (spec §8).
select distinct on (btrim(hospital_id), {{ to_int('year') }})
    btrim(hospital_id)          as hospital_id,
    {{ to_int('year') }}        as year,
    {{ to_numeric('score') }}   as score,
    batch_id
from {{ source('raw', 'assessment_scores') }}
where {{ to_int('year') }} is not null
order by btrim(hospital_id), {{ to_int('year') }}, batch_id desc, source_row desc
