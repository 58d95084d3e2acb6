-- Load batches (audit.batches): one row per loaded file, its kind and whether its validation completed
-- (status 'validated').
select
    batch_id,
    file_kind,
    status,
    loaded_at,
    validated_at
from {{ source('audit', 'batches') }}
