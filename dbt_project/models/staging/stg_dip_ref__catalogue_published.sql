-- Imported DIP catalogue groups (ref.dip_catalogue_published, `drgflow dip catalogue import`), one row per
-- (settlement_year, code); a view, so always current.
select
    p.settlement_year, p.code, p.published_code, p.group_type, p.dx_key, p.main_px, p.related_px, p.class,
    p.score, p.mean_cost, p.n, p.cv, p.mean_los, i.reference_mean, p.source_row
from {{ source('dip_ref', 'dip_catalogue_published') }} as p
inner join {{ source('dip_ref', 'dip_catalogue_imports') }} as i on i.settlement_year = p.settlement_year
