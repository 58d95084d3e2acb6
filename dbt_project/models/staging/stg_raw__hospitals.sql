-- Hospital registry: the latest row per hospital_id (a later registry file updates level or region).
select distinct on (btrim(hospital_id))
    btrim(hospital_id)          as hospital_id,
    btrim(hospital_name)        as hospital_name,
    {{ to_int('level') }}       as level,
    nullif(btrim(hospital_type), '') as hospital_type,
    btrim(region_code)          as region_code,
    batch_id
from {{ source('raw', 'hospitals') }}
where nullif(btrim(hospital_id), '') is not null
order by btrim(hospital_id), batch_id desc, source_row desc
