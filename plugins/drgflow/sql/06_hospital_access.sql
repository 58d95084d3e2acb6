-- Hospital access: per-hospital logins see only their own rows, through security-barrier views in
-- schema `hospital` over every mart that has a hospital_id column. dbt recreates mart tables (which
-- drops dependent views), so dbt's on-run-end hook calls hospital.refresh_views() after every run.
create schema if not exists hospital;

create table if not exists audit.hospital_logins (
    login        name primary key,
    hospital_id  text not null,
    created_at   timestamptz not null default now()
);

create or replace function hospital.current_hospital_id() returns text
language sql stable security definer set search_path = pg_catalog as $$
    select hospital_id from audit.hospital_logins where login = session_user
$$;

create or replace function hospital.refresh_views() returns integer
language plpgsql security definer set search_path = pg_catalog as $$
declare
    t record;
    n integer := 0;
begin
    -- views over partitions go: a partition is read through its parent (marts.case_grouping per scheme version)
    for t in
        select p.relname as table_name from pg_class p join pg_namespace ns on ns.oid = p.relnamespace
        where ns.nspname = 'marts' and p.relispartition
          and exists (select 1 from pg_views v where v.schemaname = 'hospital' and v.viewname = p.relname)
    loop
        execute format('drop view hospital.%I', t.table_name);
    end loop;
    for t in
        select c.table_name from information_schema.columns c
        join information_schema.tables tb on tb.table_schema = c.table_schema and tb.table_name = c.table_name
        where c.table_schema = 'marts' and c.column_name = 'hospital_id'
          and not exists (select 1 from pg_class p join pg_namespace ns on ns.oid = p.relnamespace
                          where ns.nspname = 'marts' and p.relname = c.table_name and p.relispartition)
    loop
        execute format(
            'create or replace view hospital.%I with (security_barrier) as select * from marts.%I '
            'where hospital_id = hospital.current_hospital_id()', t.table_name, t.table_name);
        if exists (select 1 from pg_roles where rolname = 'drgflow_hospital') then
            execute format('grant select on hospital.%I to drgflow_hospital', t.table_name);
        end if;
        n := n + 1;
    end loop;
    return n;
end $$;
