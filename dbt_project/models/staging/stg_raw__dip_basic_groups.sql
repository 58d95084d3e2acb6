-- Basic groups (基层病种) a bureau loaded per settlement year (dip_basic_groups.csv; dip-spec §3.3): a core group
-- of the year's catalogue paid with level coefficient 1 (同病同价). Codes normalised as the catalogue's (§2.1).
select distinct
    {{ to_int('settlement_year') }}     as settlement_year,
    upper(btrim(code))                  as code
from {{ source('raw', 'dip_basic_groups') }}
where nullif(btrim(code), '') is not null
