{#
  materialized='list_partition': a table LIST-partitioned by one column (partition_by), where a run
  replaces the one partition of the value it was given (partition_value) and leaves the others alone.

  Used by marts.case_grouping (one partition per scheme version): regrouping history under a new scheme
  keeps every other version's rows, as an incremental delete+insert did, but without deleting millions of
  rows and writing them twice (a temp table, then the insert). The new rows are written once, by
  CREATE TABLE AS, and swapped in with DETACH/ATTACH in the run's transaction, so readers see either the
  old or the new partition, never a half-written one.

  The first run creates the partitioned table. A plain table of the same name (a warehouse built before
  this materialization) is converted, each of its values moved to its own partition. Columns appended to
  the model are added to the table (other partitions hold nulls in them until rebuilt); any other change
  of the model's columns stops the run and asks for --full-refresh (which drops every partition).
#}
{% materialization list_partition, adapter='postgres' %}
  {%- set column = config.require('partition_by') -%}
  {%- set value = config.require('partition_value') -%}
  {%- set target = this.incorporate(type='table') -%}
  {%- set new_rows = make_intermediate_relation(target) -%}
  {%- set legacy = make_backup_relation(target, 'table') -%}
  {%- set existing = load_cached_relation(this) -%}

  {{ drop_relation_if_exists(load_cached_relation(new_rows)) }}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- set relkind = none -%}
  {%- if existing is not none -%}
    {%- if should_full_refresh() -%}
      {% do adapter.drop_relation(existing) %}
    {%- else -%}
      {%- set relkind = run_query("select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                                  ~ " where n.nspname = " ~ dbt.string_literal(target.schema)
                                  ~ " and c.relname = " ~ dbt.string_literal(target.identifier))
                          .columns[0].values()[0] -%}
    {%- endif -%}
  {%- endif -%}

  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, new_rows, sql) }}
  {%- endcall %}

  {%- if relkind == 'r' %}
    {# a plain table from before: keep its rows, one partition per value #}
    {{ adapter.rename_relation(existing, legacy) }}
  {%- endif %}
  {%- if relkind != 'p' %}
    {% call statement('create_parent') -%}
      create table {{ target }} (like {{ new_rows }}) partition by list ({{ adapter.quote(column) }})
    {%- endcall %}
  {%- else %}
    {%- set old_cols = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set new_cols = adapter.get_columns_in_relation(new_rows) | map(attribute='name') | list -%}
    {%- if old_cols != new_cols and new_cols[:old_cols | length] == old_cols -%}
      {# columns appended to the model (an upgrade): add them to the parent, so the other versions'
         partitions keep their rows, with nulls in the new columns until they are rebuilt #}
      {%- for col in adapter.get_columns_in_relation(new_rows)[old_cols | length:] %}
        {% call statement('add_column_' ~ loop.index) -%}
          alter table {{ target }} add column {{ adapter.quote(col.name) }} {{ col.data_type }}
        {%- endcall %}
      {%- endfor %}
    {%- elif old_cols != new_cols -%}
      {{ exceptions.raise_compiler_error(
           target ~ " has columns " ~ old_cols ~ " but the model now gives " ~ new_cols ~
           ": rebuild it with dbt run --full-refresh (then regroup every scheme version)") }}
    {%- endif -%}
  {%- endif %}

  {%- if relkind == 'r' %}
    {%- set kept = run_query("select distinct " ~ adapter.quote(column) ~ " from " ~ legacy ~
                             " where " ~ adapter.quote(column) ~ " is distinct from " ~ dbt.string_literal(value))
                      .columns[0].values() -%}
    {%- for old_value in kept %}
      {%- set part = target.incorporate(path={"identifier": target.identifier ~ "__p" ~ local_md5(old_value)[:12]}) -%}
      {% call statement('move_' ~ loop.index) -%}
        create table {{ part }} as select * from {{ legacy }} where {{ adapter.quote(column) }} = {{ dbt.string_literal(old_value) }};
        alter table {{ target }} attach partition {{ part }} for values in ({{ dbt.string_literal(old_value) }})
      {%- endcall %}
    {%- endfor %}
    {{ adapter.drop_relation(legacy) }}
  {%- endif %}

  {%- set part = target.incorporate(path={"identifier": target.identifier ~ "__p" ~ local_md5(value)[:12]}) -%}
  {% call statement('swap') -%}
    drop table if exists {{ part }};
    alter table {{ new_rows }} rename to {{ part.identifier }};
    alter table {{ target }} attach partition {{ part }} for values in ({{ dbt.string_literal(value) }});
    comment on table {{ part }} is {{ dbt.string_literal(column ~ " = " ~ value) }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}
