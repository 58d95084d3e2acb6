-- Operating-room procedures (SS_VALID) of each imported scheme version; DIP's treatment class reads the list of
-- its or_list_scheme (dip-spec §2.3 step 2).
select scheme_version, code, upper(btrim(code)) as code_normalised
from {{ source('grouping_ref', 'scheme_ss_valid') }}
