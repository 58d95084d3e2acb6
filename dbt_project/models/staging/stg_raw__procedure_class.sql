-- Procedure classes a bureau loaded (procedure_class.csv: code, class; dip-spec §2.3 step 1): the treatment
-- class of each listed 医保版 procedure code, normalised (§2.1). 手术 and 介入治疗 → surgery, 治疗性操作 →
-- therapeutic, 诊断性操作 → diagnostic; any other class text leaves the code to the rule's later steps.
-- The last row per code wins.
select distinct on (upper(btrim(code)))
    upper(btrim(code))                  as code,
    btrim(class)                        as class_text,
    case btrim(class)
        when '手术' then 'surgery'
        when '介入治疗' then 'surgery'
        when '治疗性操作' then 'therapeutic'
        when '诊断性操作' then 'diagnostic'
    end                                 as treatment_class
from {{ source('raw', 'procedure_class') }}
where nullif(btrim(code), '') is not null
order by upper(btrim(code)), batch_id desc, source_row desc
