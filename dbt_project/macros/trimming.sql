{# settlement-spec §2 trimming (dip-spec §5 applies it per DIP group), one implementation for DRG and DIP.
   trim_bounds(population, keys, p): the CTEs `trim_counts`, `trim_bounds` and `trim_interpolated` (to follow a
   comma in the caller's WITH): per group of `keys` (column names of CTE `population`, which has total_cost)
   the percentile bounds p_low / p_high (trim_low_pct / trim_high_pct of params CTE `p`), the quartiles q1 / q3
   and the mean and sample sd of ln C. Bounds interpolate linearly exactly as percentile_cont, in numeric rather
   than percentile_cont's double precision, so they are exact.
   trim_kept(r, b, p): whether case row `r` is kept against its group's bounds row `b`. Methods percentile
   (P_low <= C <= P_high), log_sd (|ln C − mean ln C| <= k·sd), iqr (Q1 − k·IQR <= C <= Q3 + k·IQR), none.
   Bounds are inclusive; groups with fewer than trim_min_n cases are never trimmed. #}
{% macro trim_bounds(population, keys, p) %}
{%- set fractions = [('p_low', p ~ '.trim_low_pct / 100'), ('p_high', p ~ '.trim_high_pct / 100'),
                     ('q1', '0.25'), ('q3', '0.75')] %}
{%- set key_list = keys | join(', ') %}
trim_counts as (
    select {{ key_list }}, count(*) as n_group from {{ population }} group by {{ key_list }}
),

trim_bounds as (
    -- the values at the 1-based ranks around h = (n − 1)·f, as percentile_cont interpolates them, read with
    -- percentile_disc: rank r is percentile_disc((r − 0.5) / n) (its row number ceil(f·n) is exactly r).
    -- One sort per group inside the aggregate; the interpolation itself stays in exact numeric.
    select
        {% for k in keys %}r.{{ k }}, {% endfor %}k.n_group,
        percentile_disc(array[
        {%- for name, f in fractions %}
            (floor((k.n_group - 1) * ({{ f }}))::double precision + 0.5) / k.n_group,
            (ceil((k.n_group - 1) * ({{ f }}))::double precision + 0.5) / k.n_group{{ ',' if not loop.last }}
        {%- endfor %}
        ]) within group (order by r.total_cost) as v,
        -- numeric ln is costly: computed only when the method needs it
        avg(case when {{ p }}.trim_method = 'log_sd' and r.total_cost > 0 then ln(r.total_cost) end)         as mean_ln,
        stddev_samp(case when {{ p }}.trim_method = 'log_sd' and r.total_cost > 0 then ln(r.total_cost) end) as sd_ln
    from {{ population }} as r
    join trim_counts as k using ({{ key_list }})
    cross join {{ p }}
    group by {% for k in keys %}r.{{ k }}, {% endfor %}k.n_group, {{ p }}.trim_low_pct, {{ p }}.trim_high_pct
),

trim_interpolated as materialized (
    -- one row per group, materialized: inlined, the interpolation would be evaluated again for every case
    select
        {% for k in keys %}b.{{ k }}, {% endfor %}b.n_group, b.mean_ln, b.sd_ln
    {%- for name, f in fractions %},
        b.v[{{ 2 * loop.index - 1 }}] + ((b.n_group - 1) * ({{ f }}) - floor((b.n_group - 1) * ({{ f }})))
            * (b.v[{{ 2 * loop.index }}] - b.v[{{ 2 * loop.index - 1 }}])                 as {{ name }}
    {%- endfor %}
    from trim_bounds as b
    cross join {{ p }}
)
{% endmacro %}

{% macro trim_kept(r, b, p) -%}
    case
        when {{ b }}.n_group < {{ p }}.trim_min_n or {{ p }}.trim_method = 'none' then true
        when {{ p }}.trim_method = 'percentile' then {{ r }}.total_cost between {{ b }}.p_low and {{ b }}.p_high
        when {{ p }}.trim_method = 'iqr'
            then {{ r }}.total_cost between {{ b }}.q1 - {{ p }}.trim_iqr_k * ({{ b }}.q3 - {{ b }}.q1)
                                        and {{ b }}.q3 + {{ p }}.trim_iqr_k * ({{ b }}.q3 - {{ b }}.q1)
        -- a cost <= 0 has no logarithm: it cannot be judged typical, so it is dropped (docs/settlement-choices.md)
        when {{ p }}.trim_method = 'log_sd' then
            case when {{ r }}.total_cost is null or {{ r }}.total_cost <= 0 then false
                 when {{ b }}.sd_ln is null then true
                 else abs(ln({{ r }}.total_cost) - {{ b }}.mean_ln) <= {{ p }}.trim_log_sd_k * {{ b }}.sd_ln end
    end
{%- endmacro %}
