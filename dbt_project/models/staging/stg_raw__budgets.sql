-- Fund budget per pooling region and year; the latest row wins.
select distinct on (btrim(region_code), {{ to_int('year') }})
    btrim(region_code)              as region_code,
    {{ to_int('year') }}            as year,
    {{ to_money('fund_budget') }}   as fund_budget,
    batch_id
from {{ source('raw', 'budgets') }}
where {{ to_int('year') }} is not null
order by btrim(region_code), {{ to_int('year') }}, batch_id desc, source_row desc
