-- Operation log (操作日志): every load, run, period close/reopen, parameter change and special-review load.
-- Append-only for every role but the table owner (a trigger refuses UPDATE/DELETE from anyone else).
create table if not exists audit.log (
    log_id        bigserial primary key,
    logged_at     timestamptz not null default now(),
    actor         text not null default session_user,
    db_role       text not null default current_user,
    event         text not null,              -- load | run | close | reopen | parameters | special_review …
    subject       text,                       -- file, period, parameter set …
    row_counts    jsonb not null default '{}'::jsonb,
    parameter_hash text,
    details       jsonb not null default '{}'::jsonb
);
create index if not exists log_event_time on audit.log (event, logged_at);

create or replace function audit.refuse_log_changes() returns trigger
language plpgsql as $$
begin
    if current_user <> (select tableowner from pg_tables where schemaname = 'audit' and tablename = 'log') then
        raise exception 'audit.log is append-only (attempted % by %)', tg_op, current_user;
    end if;
    return coalesce(old, new);
end $$;
create or replace trigger log_append_only before update or delete on audit.log
    for each row execute function audit.refuse_log_changes();
create or replace trigger log_no_truncate before truncate on audit.log
    for each statement execute function audit.refuse_log_changes();

-- Each service role logs only its own kind of event, under its own name (issue 18 #18): the loader cannot write
-- a 'close', nor anyone an entry in another user's name. Superusers and the admin are not restricted.
create or replace function audit.check_log_entry() returns trigger
language plpgsql as $$
declare
    super boolean := (select rolsuper from pg_roles where rolname = current_user);
begin
    new.actor := session_user;
    new.db_role := current_user;
    if super then
        return new;
    end if;
    if exists (select 1 from pg_roles where rolname = 'drgflow_loader')
       and pg_has_role(current_user, 'drgflow_loader', 'member')
       and new.event not in ('load', 'special_review', 'load_refused') then
        raise exception 'audit.log: drgflow_loader may not log a % event', new.event;
    end if;
    if exists (select 1 from pg_roles where rolname = 'drgflow_transformer')
       and pg_has_role(current_user, 'drgflow_transformer', 'member')
       and new.event not in ('calibrate', 'settle', 'close', 'reopen', 'dip_group') then
        raise exception 'audit.log: drgflow_transformer may not log a % event', new.event;
    end if;
    return new;
end $$;
create or replace trigger log_entry_checked before insert on audit.log
    for each row execute function audit.check_log_entry();
