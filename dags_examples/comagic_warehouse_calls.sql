-- Who and what each call of the warehouse was: its campaign, its site and the employee who answered it last,
-- joined to the reference snapshots of the call's own day (a snapshot of day D lists the names the ids had on D).
-- With an agency's clients in one table, also join on the client: its id is in each row's _partition
-- (substring(_partition from 'customer_id=(\d+)')).
SELECT
    call.id                   AS call_id,
    call.start_time,
    campaign.name             AS campaign,
    site.domain_name          AS site,
    employee.full_name        AS employee
FROM comagic_warehouse.calls_report AS call
LEFT JOIN comagic_warehouse.campaigns AS campaign
       ON campaign.id = call.campaign_id AND campaign._interval_start = call._interval_start
LEFT JOIN comagic_warehouse.sites AS site
       ON site.id = call.site_id AND site._interval_start = call._interval_start
LEFT JOIN comagic_warehouse.employees AS employee
       ON employee.id = call.last_answered_employee_id AND employee._interval_start = call._interval_start
ORDER BY call.start_time, call.id
