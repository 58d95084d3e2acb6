-- case_grouping is keyed by (scheme_version, hospital_id, case_id): no key twice.
select scheme_version, hospital_id, case_id, count(*) as n
from {{ ref('case_grouping') }}
group by 1, 2, 3
having count(*) > 1
