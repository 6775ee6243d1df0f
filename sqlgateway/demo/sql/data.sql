-- Rows of the sqlgateway demo database, generated server-side with generate_series.
--
-- Run by sqlgateway.demo inside the load transaction, after schema.sql, with
-- TimeZone = 'UTC' and the size in the custom setting sqlgateway_demo.claims:
-- claims/4 policyholders, claims/2 policies, 50 adjusters, 2-6 events per claim and one
-- payment per claim that reached payment.
--
-- Deterministic: every "random" choice is pg_temp.rnd(kind, id, salt), 48 bits of
-- md5(kind:id:salt); amounts use numeric arithmetic and times whole seconds (no floating
-- point), so a given size yields the same rows on every run and every server.
-- The data is a snapshot as of 2026-06-30 23:59:59 UTC: nothing happens after that instant.

CREATE FUNCTION pg_temp.rnd(kind text, id bigint, salt integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$
        SELECT ('x' || substr(md5(kind || ':' || id::text || ':' || salt::text), 1, 12))
               ::bit(48)::bigint
    $$;

-- A fraction in [0, 1) with six decimals.
CREATE FUNCTION pg_temp.frac(kind text, id bigint, salt integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT (pg_temp.rnd(kind, id, salt) % 1000000) / 1000000.0 $$;

CREATE FUNCTION pg_temp.pick(choices text[], n bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT choices[(1 + n % cardinality(choices))::integer] $$;

CREATE TEMP TABLE demo_size ON COMMIT DROP AS
SELECT n AS claims,
       greatest(1, n / 4) AS holders,
       greatest(1, n / 2) AS policies,
       timestamptz '2026-06-30 23:59:59+00' AS as_of
FROM (SELECT current_setting('sqlgateway_demo.claims')::integer AS n) AS setting;

-- region_no matches adjusters: adjuster a covers region_no 1 + (a - 1) % 5.
CREATE TEMP TABLE demo_places (city text, state text, region text, region_no integer)
    ON COMMIT DROP;
INSERT INTO demo_places VALUES
    ('Boston', 'MA', 'northeast', 1), ('New York', 'NY', 'northeast', 1),
    ('Philadelphia', 'PA', 'northeast', 1), ('Hartford', 'CT', 'northeast', 1),
    ('Newark', 'NJ', 'northeast', 1), ('Buffalo', 'NY', 'northeast', 1),
    ('Atlanta', 'GA', 'southeast', 2), ('Miami', 'FL', 'southeast', 2),
    ('Orlando', 'FL', 'southeast', 2), ('Charlotte', 'NC', 'southeast', 2),
    ('Nashville', 'TN', 'southeast', 2), ('Richmond', 'VA', 'southeast', 2),
    ('Chicago', 'IL', 'midwest', 3), ('Columbus', 'OH', 'midwest', 3),
    ('Detroit', 'MI', 'midwest', 3), ('Minneapolis', 'MN', 'midwest', 3),
    ('Milwaukee', 'WI', 'midwest', 3), ('Kansas City', 'MO', 'midwest', 3),
    ('Houston', 'TX', 'southwest', 4), ('Dallas', 'TX', 'southwest', 4),
    ('Austin', 'TX', 'southwest', 4), ('Phoenix', 'AZ', 'southwest', 4),
    ('Albuquerque', 'NM', 'southwest', 4), ('Oklahoma City', 'OK', 'southwest', 4),
    ('Los Angeles', 'CA', 'west', 5), ('San Diego', 'CA', 'west', 5),
    ('Seattle', 'WA', 'west', 5), ('Portland', 'OR', 'west', 5),
    ('Denver', 'CO', 'west', 5), ('Salt Lake City', 'UT', 'west', 5);

CREATE TEMP TABLE demo_names ON COMMIT DROP AS
SELECT '{James,Mary,Robert,Patricia,John,Jennifer,Michael,Linda,David,Elizabeth,William,Barbara,
         Richard,Susan,Joseph,Jessica,Thomas,Sarah,Carlos,Maria,Daniel,Nancy,Wei,Mei,Ahmed,Fatima,
         Raj,Priya,Kenji,Yuki,Olga,Ivan,Sean,Aisha,Luis,Sofia,Kevin,Emily,Andre,Grace}'::text[]
           AS first,
       '{Smith,Johnson,Williams,Brown,Jones,Garcia,Miller,Davis,Rodriguez,Martinez,Hernandez,Lopez,
         Wilson,Anderson,Thomas,Taylor,Moore,Jackson,Martin,Lee,Thompson,White,Harris,Clark,Lewis,
         Walker,Young,Allen,King,Wright,Chen,Wang,Patel,Nguyen,Kim,Kowalski,Novak,O''Brien,Murphy,
         Schmidt}'::text[] AS last;

-- Loss types per product: a claim on a policy of `product` has this loss_type when its roll
-- (0-99) is within [roll_from, roll_to]; `typical` is a typical amount in dollars.
CREATE TEMP TABLE demo_losses (
    product text, loss_type text, roll_from integer, roll_to integer, typical numeric,
    descriptions text[]
) ON COMMIT DROP;
INSERT INTO demo_losses VALUES
    ('auto', 'collision', 0, 44, 3800, ARRAY[
        'Rear-ended at a traffic light; bumper and trunk damaged.',
        'Collided with another vehicle at an intersection.',
        'Slid into a guardrail on a wet road.',
        'Backed into a pole in a parking lot.']),
    ('auto', 'glass', 45, 64, 450, ARRAY[
        'Windshield cracked by a stone on the highway.',
        'Side window smashed.']),
    ('auto', 'theft', 65, 74, 9000, ARRAY[
        'Vehicle stolen from the driveway overnight.',
        'Catalytic converter stolen.',
        'Car broken into; contents stolen.']),
    ('auto', 'vandalism', 75, 84, 1200, ARRAY[
        'Paint keyed along both sides.',
        'Tires slashed in a parking garage.']),
    ('auto', 'liability', 85, 99, 12000, ARRAY[
        'Policyholder at fault in a collision; damage to the other vehicle.',
        'Other driver injured in a low-speed collision.']),
    ('home', 'water_damage', 0, 34, 8500, ARRAY[
        'Burst pipe flooded the kitchen.',
        'Water heater leaked into the basement.',
        'Roof leak damaged a ceiling after heavy rain.']),
    ('home', 'storm', 35, 59, 11000, ARRAY[
        'Hail damaged the roof and gutters.',
        'A tree fell on the roof during a storm.',
        'Wind tore off siding.']),
    ('home', 'theft', 60, 74, 4200, ARRAY[
        'Burglary; jewelry and electronics stolen.',
        'Bicycles stolen from the garage.']),
    ('home', 'fire', 75, 84, 45000, ARRAY[
        'Kitchen fire spread to the dining room.',
        'Electrical fire in the garage.']),
    ('home', 'liability', 85, 99, 15000, ARRAY[
        'Visitor slipped on an icy walkway and was injured.',
        'Dog bit a neighbor.']),
    ('renters', 'theft', 0, 44, 2200, ARRAY[
        'Laptop and camera stolen from the apartment.',
        'Bicycle stolen from the building storage room.']),
    ('renters', 'water_damage', 45, 74, 1800, ARRAY[
        'Leak from the unit upstairs damaged furniture.',
        'Washing machine overflow damaged belongings.']),
    ('renters', 'fire', 75, 84, 9000, ARRAY[
        'Fire in the building; smoke damage to belongings.']),
    ('renters', 'liability', 85, 99, 6000, ARRAY[
        'Guest injured in the apartment.',
        'Overflowing bathtub damaged the unit below.']),
    ('life', 'death', 0, 99, NULL, ARRAY[
        'Death of the insured; beneficiary claim filed.']),
    ('travel', 'trip_cancellation', 0, 39, 2400, ARRAY[
        'Trip cancelled due to illness.',
        'Trip cancelled after a family emergency.']),
    ('travel', 'medical', 40, 64, 6500, ARRAY[
        'Emergency room visit abroad.',
        'Hospitalized abroad after an accident.']),
    ('travel', 'baggage', 65, 89, 900, ARRAY[
        'Checked bag lost by the airline.',
        'Luggage damaged in transit.']),
    ('travel', 'delay', 90, 99, 300, ARRAY[
        'Flight delayed overnight; hotel and meals.',
        'Missed a connection after a delayed flight.']);

INSERT INTO adjusters (adjuster_id, full_name, email, region)
SELECT a,
       n.first_name || ' ' || n.last_name,
       lower(n.first_name || '.' || replace(n.last_name, '''', '')) || a || '@claims.example.com',
       (ARRAY['northeast', 'southeast', 'midwest', 'southwest', 'west'])[1 + (a - 1) % 5]
FROM generate_series(1, 50) AS a
CROSS JOIN demo_names AS names
CROSS JOIN LATERAL (
    SELECT pg_temp.pick(names.first, pg_temp.rnd('adjuster', a, 1)) AS first_name,
           pg_temp.pick(names.last, pg_temp.rnd('adjuster', a, 2)) AS last_name
) AS n;

INSERT INTO policyholders
    (policyholder_id, full_name, email, date_of_birth, city, state, created_at)
SELECT h,
       n.first_name || ' ' || n.last_name,
       lower(n.first_name || '.' || replace(n.last_name, '''', '')) || h || '@'
           || pg_temp.pick('{example.com,example.net,example.org}', pg_temp.rnd('holder', h, 3)),
       date '1940-01-01' + (pg_temp.rnd('holder', h, 4) % 22995)::integer,  -- up to 2002
       p.city,
       p.state,
       timestamptz '2021-01-01 00:00:00+00'
           + (pg_temp.rnd('holder', h, 5) % (1642 * 86400)) * interval '1 second'  -- to 2025-06-30
FROM demo_size AS s
CROSS JOIN demo_names AS names
CROSS JOIN generate_series(1, s.holders) AS h
CROSS JOIN LATERAL (
    SELECT pg_temp.pick(names.first, pg_temp.rnd('holder', h, 1)) AS first_name,
           pg_temp.pick(names.last, pg_temp.rnd('holder', h, 2)) AS last_name,
           1 + pg_temp.rnd('holder', h, 6) % 30 AS place_no
) AS n
JOIN (SELECT row_number() OVER (ORDER BY state, city) AS place_no, city, state FROM demo_places)
    AS p ON p.place_no = n.place_no;

-- The first `holders` policies give every policyholder one policy, started soon after the
-- customer record; the rest go to random policyholders, started any time up to 2025-12-31.
INSERT INTO policies (policy_id, policyholder_id, policy_number, product, status, premium_cents,
                      start_date, end_date)
SELECT x.policy_id,
       x.holder,
       'POL-' || lpad(x.policy_id::text, greatest(7, length(x.policy_id::text)), '0'),
       x.product,
       CASE WHEN d.end_date >= s.as_of::date
            THEN CASE WHEN x.roll < 85 THEN 'active' WHEN x.roll < 93 THEN 'cancelled'
                      ELSE 'lapsed' END
            ELSE CASE WHEN x.roll < 82 THEN 'expired' WHEN x.roll < 92 THEN 'cancelled'
                      ELSE 'lapsed' END
       END,
       CASE x.product
           WHEN 'auto' THEN 60000 + pg_temp.rnd('policy', x.policy_id, 5) % 180000
           WHEN 'home' THEN 80000 + pg_temp.rnd('policy', x.policy_id, 5) % 240000
           WHEN 'renters' THEN 12000 + pg_temp.rnd('policy', x.policy_id, 5) % 28000
           WHEN 'life' THEN 20000 + pg_temp.rnd('policy', x.policy_id, 5) % 130000
           ELSE 3000 + pg_temp.rnd('policy', x.policy_id, 5) % 22000
       END,
       d.start_date,
       d.end_date
FROM demo_size AS s
CROSS JOIN LATERAL (
    SELECT g AS policy_id,
           CASE WHEN g <= s.holders THEN g ELSE 1 + pg_temp.rnd('policy', g, 1) % s.holders END
               AS holder,
           CASE WHEN g = 1 OR r.product_roll < 40 THEN 'auto' WHEN r.product_roll < 65 THEN 'home'
                WHEN r.product_roll < 80 THEN 'renters' WHEN r.product_roll < 92 THEN 'travel'
                ELSE 'life' END AS product,
           pg_temp.rnd('policy', g, 3) % 100 AS roll
    FROM generate_series(1, s.policies) AS g
    CROSS JOIN LATERAL (SELECT pg_temp.rnd('policy', g, 2) % 100 AS product_roll) AS r
) AS x
JOIN policyholders AS ph ON ph.policyholder_id = x.holder
CROSS JOIN LATERAL (
    SELECT CASE WHEN x.policy_id <= s.holders
                THEN ph.created_at::date + (pg_temp.rnd('policy', x.policy_id, 4) % 15)::integer
                ELSE ph.created_at::date + (pg_temp.rnd('policy', x.policy_id, 4)
                     % (date '2026-01-01' - ph.created_at::date))::integer
           END AS start_date
) AS st
CROSS JOIN LATERAL (
    SELECT st.start_date,
           CASE WHEN x.product = 'travel'
                THEN st.start_date + 5 + (pg_temp.rnd('policy', x.policy_id, 6) % 40)::integer
                ELSE (st.start_date + interval '1 year')::date
           END AS end_date
) AS d;

-- The policy of every claim. A life policy has at most one claim, the insured's death (for 10%
-- of life policies); every other claim goes to a random non-life policy (policy 1 is auto, so
-- there is always one). claim_id follows a hash, so death claims are spread over the ids.
CREATE TEMP TABLE demo_claim_policies ON COMMIT DROP AS
WITH deaths AS MATERIALIZED (
    SELECT policy_id FROM policies
    WHERE product = 'life' AND pg_temp.rnd('death', policy_id, 1) % 100 < 10
),
others AS MATERIALIZED (
    SELECT row_number() OVER (ORDER BY policy_id) AS n, policy_id
    FROM policies WHERE product <> 'life'
),
picks AS (
    SELECT policy_id, pg_temp.rnd('death', policy_id, 2) AS sort_key FROM deaths
    UNION ALL
    SELECT o.policy_id, pg_temp.rnd('pick', g, 1)
    FROM demo_size AS s
    CROSS JOIN generate_series(1, s.claims - (SELECT count(*) FROM deaths)) AS g
    JOIN others AS o ON o.n = 1 + pg_temp.rnd('pick', g, 2) % (SELECT count(*) FROM others)
)
SELECT claim_id, policy_id, pg_temp.rnd('claim', claim_id, 2) % 100 AS loss_roll
FROM (SELECT row_number() OVER (ORDER BY sort_key, policy_id) AS claim_id, policy_id FROM picks)
    AS numbered;

-- The plan of every claim: its path through the life cycle and the time of each step; a step
-- after as_of has not happened yet, which gives the claim its current status.
--   path        events (info_requested optional)                        final status
--   denied      submitted, acknowledged, review_started, [info], denied        denied
--   withdrawn   submitted, acknowledged, review_started, [info], closed        closed
--   paid        ..., review_started, [info], approved, payment_issued          paid
--   paid_closed ..., review_started, approved, payment_issued, closed          closed
--   reopened    ..., review_started, approved, payment_issued, reopened        reopened
CREATE TEMP TABLE demo_claims ON COMMIT DROP AS
WITH base AS MATERIALIZED (
    SELECT cp.claim_id,
           po.policy_id,
           po.product,
           pl.region_no,
           l.loss_type,
           l.typical,
           l.descriptions,
           po.start_date::timestamptz
               + (pg_temp.rnd('claim', cp.claim_id, 3) % w.window_s) * interval '1 second'
               AS reported_at,
           CASE WHEN pa.roll < 14 THEN 'denied' WHEN pa.roll < 22 THEN 'withdrawn'
                WHEN pa.roll < 62 THEN 'paid' WHEN pa.roll < 96 THEN 'paid_closed'
                ELSE 'reopened' END AS path,
           pg_temp.rnd('claim', cp.claim_id, 5) % 100 < 30 AS wants_info,
           s.as_of
    FROM demo_size AS s
    CROSS JOIN demo_claim_policies AS cp
    JOIN policies AS po ON po.policy_id = cp.policy_id
    JOIN policyholders AS ph ON ph.policyholder_id = po.policyholder_id
    JOIN demo_places AS pl ON pl.city = ph.city AND pl.state = ph.state
    JOIN demo_losses AS l
        ON l.product = po.product AND cp.loss_roll BETWEEN l.roll_from AND l.roll_to
    CROSS JOIN LATERAL (
        -- seconds from the start of cover to its end, or to an hour before as_of
        SELECT extract(epoch FROM least(po.end_date::timestamptz + interval '1 day',
                                        s.as_of - interval '1 hour')
                                  - po.start_date::timestamptz)::bigint AS window_s
    ) AS w
    CROSS JOIN LATERAL (SELECT pg_temp.rnd('claim', cp.claim_id, 4) % 100 AS roll) AS pa
),
amounts AS MATERIALIZED (
    SELECT b.*,
           CASE WHEN b.loss_type = 'death'
                THEN pg_temp.pick('{50000,100000,100000,250000,250000,500000,1000000}',
                                  pg_temp.rnd('claim', b.claim_id, 6))::numeric
                ELSE greatest(25, round(
                         b.typical
                         * (0.25 + 1.5 * pg_temp.frac('claim', b.claim_id, 6))
                         * (0.4 + 1.2 * pg_temp.frac('claim', b.claim_id, 7))
                         * CASE WHEN pg_temp.rnd('claim', b.claim_id, 8) % 100 < 3  -- large losses
                                THEN 2 + 6 * pg_temp.frac('claim', b.claim_id, 9) ELSE 1 END,
                         2))
           END AS amount_claimed
    FROM base AS b
),
steps AS MATERIALIZED (
    SELECT a.*,
           a.reported_at + (60 + pg_temp.rnd('claim', a.claim_id, 10) % 3000)
               * interval '1 second' AS ack_at,
           a.reported_at + (4 * 3600 + pg_temp.rnd('claim', a.claim_id, 11) % (5 * 86400))
               * interval '1 second' AS review_at,
           a.path IN ('denied', 'withdrawn', 'paid') AND a.wants_info AS has_info
    FROM amounts AS a
),
info AS MATERIALIZED (
    SELECT st.*,
           CASE WHEN st.has_info
                THEN st.review_at + (86400 + pg_temp.rnd('claim', st.claim_id, 12) % (9 * 86400))
                         * interval '1 second'
           END AS info_at
    FROM steps AS st
),
decided AS MATERIALIZED (
    SELECT i.*,
           CASE WHEN i.path <> 'withdrawn'
                THEN coalesce(i.info_at, i.review_at)
                     + (3 * 86400 + pg_temp.rnd('claim', i.claim_id, 13) % (42 * 86400)
                        + CASE WHEN i.product = 'life' THEN 30 * 86400 ELSE 0 END)
                     * interval '1 second'
           END AS decision_at,
           CASE WHEN i.path = 'withdrawn'
                THEN coalesce(i.info_at, i.review_at)
                     + (2 * 86400 + pg_temp.rnd('claim', i.claim_id, 13) % (38 * 86400))
                     * interval '1 second'
           END AS withdrawn_at
    FROM info AS i
),
paid AS MATERIALIZED (
    SELECT d.*,
           CASE WHEN d.path IN ('paid', 'paid_closed', 'reopened')
                THEN d.decision_at + (86400 + pg_temp.rnd('claim', d.claim_id, 14) % (13 * 86400))
                         * interval '1 second'
           END AS pay_at
    FROM decided AS d
),
planned AS MATERIALIZED (
    SELECT p.*,
           CASE WHEN p.path = 'withdrawn' THEN p.withdrawn_at
                WHEN p.path = 'paid_closed'
                THEN p.pay_at + (3 * 86400 + pg_temp.rnd('claim', p.claim_id, 15) % (27 * 86400))
                         * interval '1 second'
           END AS close_at,
           CASE WHEN p.path = 'reopened'
                THEN p.pay_at + (20 * 86400 + pg_temp.rnd('claim', p.claim_id, 15) % (100 * 86400))
                         * interval '1 second'
           END AS reopen_at
    FROM paid AS p
)
SELECT pl.claim_id, pl.policy_id, pl.product, pl.loss_type, pl.path, pl.reported_at, pl.ack_at,
       pl.review_at, pl.info_at, pl.decision_at, pl.pay_at, pl.close_at, pl.reopen_at,
       pl.amount_claimed,
       CASE WHEN pl.loss_type = 'death' OR pg_temp.rnd('claim', pl.claim_id, 16) % 100 < 45
            THEN pl.amount_claimed
            ELSE round(pl.amount_claimed
                       * (0.55 + 0.45 * pg_temp.frac('claim', pl.claim_id, 16)), 2)
       END AS planned_approved,
       st.status,
       CASE WHEN st.status <> 'submitted'
            THEN pl.region_no + 5 * (pg_temp.rnd('claim', pl.claim_id, 17) % 10)::integer
       END AS adjuster_id,
       pl.descriptions[(1 + pg_temp.rnd('claim', pl.claim_id, 18)
                            % cardinality(pl.descriptions))::integer] AS description,
       pg_temp.pick('{web,web,web,web,web,web,web,mobile_app,mobile_app,mobile_app,mobile_app,
                      mobile_app,mobile_app,mobile_app,phone,phone,phone,phone,agent,agent}',
                    pg_temp.rnd('claim', pl.claim_id, 19)) AS channel,
       CASE WHEN pl.product = 'life'
            THEN pg_temp.pick('{wire,wire,wire,check,check}', pg_temp.rnd('claim', pl.claim_id, 20))
            ELSE pg_temp.pick('{ach,ach,ach,ach,ach,ach,ach,ach,ach,ach,ach,check,check,check,check,
                                check,card,card,wire,wire}', pg_temp.rnd('claim', pl.claim_id, 20))
       END AS payment_method
FROM planned AS pl
CROSS JOIN LATERAL (
    SELECT CASE WHEN pl.reopen_at <= pl.as_of THEN 'reopened'
                WHEN pl.close_at <= pl.as_of THEN 'closed'
                WHEN pl.pay_at <= pl.as_of THEN 'paid'
                WHEN pl.decision_at <= pl.as_of AND pl.path = 'denied' THEN 'denied'
                WHEN pl.decision_at <= pl.as_of THEN 'approved'
                WHEN pl.review_at <= pl.as_of THEN 'under_review'
                ELSE 'submitted'
           END AS status
) AS st;

INSERT INTO claims (claim_id, policy_id, adjuster_id, claim_number, status, loss_type,
                    amount_claimed, amount_approved, reported_at, closed_at, description, details)
SELECT c.claim_id,
       c.policy_id,
       c.adjuster_id,
       'CLM-' || lpad(c.claim_id::text, greatest(7, length(c.claim_id::text)), '0'),
       c.status::claim_status,
       c.loss_type,
       c.amount_claimed,
       CASE WHEN c.status IN ('approved', 'paid', 'reopened')
                 OR (c.status = 'closed' AND c.path = 'paid_closed')
            THEN c.planned_approved
       END,
       c.reported_at,
       CASE c.status WHEN 'denied' THEN c.decision_at WHEN 'paid' THEN c.pay_at
                     WHEN 'closed' THEN c.close_at END,
       c.description,
       jsonb_build_object('channel', c.channel) || CASE c.product
           WHEN 'auto' THEN jsonb_build_object(
               'vehicle', jsonb_build_object(
                   'make', pg_temp.pick(
                       '{Toyota,Honda,Ford,Chevrolet,Nissan,Hyundai,Subaru,Tesla,BMW,Kia}',
                       pg_temp.rnd('claim', c.claim_id, 21)),
                   'model_year', 2008 + pg_temp.rnd('claim', c.claim_id, 22) % 18),
               'police_report', c.loss_type IN ('theft', 'vandalism')
                   OR (c.loss_type IN ('collision', 'liability')
                       AND pg_temp.rnd('claim', c.claim_id, 23) % 100 < 50),
               'injuries', c.loss_type = 'liability'
                   AND pg_temp.rnd('claim', c.claim_id, 24) % 100 < 40)
           WHEN 'travel' THEN jsonb_build_object(
               'destination', pg_temp.pick(
                   '{Cancun,Paris,London,Rome,Tokyo,Lisbon,Honolulu,Barcelona,Bangkok,Reykjavik}',
                   pg_temp.rnd('claim', c.claim_id, 21)),
               'trip_days', 3 + pg_temp.rnd('claim', c.claim_id, 22) % 19)
           WHEN 'life' THEN jsonb_build_object(
               'beneficiaries', 1 + pg_temp.rnd('claim', c.claim_id, 21) % 4)
           ELSE jsonb_build_object(
               'room', pg_temp.pick(
                   '{kitchen,bathroom,basement,living_room,bedroom,roof,garage,yard}',
                   pg_temp.rnd('claim', c.claim_id, 21)),
               'emergency_repair', c.loss_type IN ('water_damage', 'storm', 'fire')
                   AND pg_temp.rnd('claim', c.claim_id, 22) % 100 < 60,
               'police_report', c.loss_type = 'theft')
       END
FROM demo_claims AS c;

INSERT INTO claim_events (event_id, claim_id, event_type, note, created_at)
SELECT row_number() OVER (ORDER BY c.claim_id, e.step), c.claim_id, e.event_type, e.note, e.at
FROM demo_size AS s
CROSS JOIN demo_claims AS c
LEFT JOIN adjusters AS a ON a.adjuster_id = c.adjuster_id
CROSS JOIN LATERAL (VALUES
    (1, 'submitted', 'Claim submitted via ' || replace(c.channel, '_', ' '), c.reported_at),
    (2, 'acknowledged', 'Acknowledgement sent to the policyholder', c.ack_at),
    (3, 'review_started', 'Assigned to ' || a.full_name || '; review started', c.review_at),
    (4, 'info_requested',
        pg_temp.pick(ARRAY['Requested photos of the damage', 'Requested a repair estimate',
                           'Requested receipts', 'Requested a police report',
                           'Requested medical records'],
                     pg_temp.rnd('event', c.claim_id, 1)),
        c.info_at),
    (5, CASE WHEN c.path = 'denied' THEN 'denied' ELSE 'approved' END,
        CASE WHEN c.path = 'denied'
             THEN 'Denied: ' || pg_temp.pick(
                 ARRAY['loss not covered by the policy', 'damage predates the policy',
                       'insufficient documentation', 'policy exclusion applies', 'duplicate claim'],
                 pg_temp.rnd('event', c.claim_id, 2))
             ELSE 'Approved for USD ' || c.planned_approved
        END,
        c.decision_at),
    (6, 'payment_issued',
        'Payment of USD ' || c.planned_approved || ' issued by ' || c.payment_method, c.pay_at),
    (7, 'closed',
        CASE WHEN c.path = 'withdrawn' THEN 'Withdrawn by the policyholder; claim closed'
             ELSE 'Claim closed' END,
        c.close_at),
    (8, 'reopened',
        pg_temp.pick(ARRAY['Reopened: supplemental damage reported',
                           'Reopened at the policyholder''s request'],
                     pg_temp.rnd('event', c.claim_id, 3)),
        c.reopen_at)
) AS e(step, event_type, note, at)
WHERE e.at <= s.as_of;

INSERT INTO payments (payment_id, claim_id, amount, paid_at, method)
SELECT row_number() OVER (ORDER BY c.claim_id), c.claim_id, c.planned_approved, c.pay_at,
       c.payment_method
FROM demo_size AS s
CROSS JOIN demo_claims AS c
WHERE c.pay_at <= s.as_of;
