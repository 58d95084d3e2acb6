-- Every received case row of every batch as loaded: text columns as in the file (patient_id is already
-- pseudonymous, drgflow.pseudonym), rejected and superseded rows included. For the data-quality marts, which
-- judge what hospitals sent; payment reads stg_raw__cases. One row per (batch_id, source_row).
select c.*
from {{ source('raw', 'cases') }} as c
