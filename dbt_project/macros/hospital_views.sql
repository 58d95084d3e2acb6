{# After every dbt run: recreate the per-hospital row-filtered views (dbt replaced the mart tables,
   which dropped the views depending on them). A no-op where `drgflow db init` has not run. #}
{% macro refresh_hospital_views() -%}
    do $$ begin
        if to_regprocedure('hospital.refresh_views()') is not null then
            perform hospital.refresh_views();
        end if;
    end $$;
{%- endmacro %}
