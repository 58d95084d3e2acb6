-- grouped rows have a DRG of their ADRG; ungroupable rows have 0000 and a reason; qy rows have xQY.
select *
from {{ ref('case_grouping') }}
where (group_status = 'grouped' and (drg = '0000' or left(drg, 3) <> adrg or reason is not null))
   or (group_status = 'ungroupable' and (drg <> '0000' or reason is null))
   or (group_status = 'qy' and drg not like '_QY')
