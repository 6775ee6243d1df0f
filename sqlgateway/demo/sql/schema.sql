-- Schema of the sqlgateway demo database: a fictional insurer's policies and claims.
--
-- Run by sqlgateway.demo inside the load transaction, before data.sql. Keys, foreign keys
-- and indexes are added after the load by indexes.sql (faster than maintaining them per
-- row); CHECK constraints stay here, with the columns they describe.
-- Compatible with PostgreSQL 13 and later. Money columns: numeric(12,2) amounts are US dollars;
-- columns ending in _cents are integer US cents.

CREATE TYPE claim_status AS ENUM (
    'submitted', 'under_review', 'approved', 'denied', 'paid', 'closed', 'reopened'
);

CREATE TABLE policyholders (
    policyholder_id integer     NOT NULL,
    full_name       text        NOT NULL,
    email           text        NOT NULL CHECK (email LIKE '%_@_%'),
    date_of_birth   date        NOT NULL,
    city            text        NOT NULL,
    state           text        NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    created_at      timestamptz NOT NULL
);

CREATE TABLE adjusters (
    adjuster_id integer NOT NULL,
    full_name   text    NOT NULL,
    email       text    NOT NULL CHECK (email LIKE '%_@_%'),
    region      text    NOT NULL
        CHECK (region IN ('northeast', 'southeast', 'midwest', 'southwest', 'west'))
);

CREATE TABLE policies (
    policy_id       integer NOT NULL,
    policyholder_id integer NOT NULL,
    policy_number   text    NOT NULL CHECK (policy_number ~ '^POL-[0-9]{7,}$'),
    product         text    NOT NULL
        CHECK (product IN ('auto', 'home', 'renters', 'life', 'travel')),
    status          text    NOT NULL CHECK (status IN ('active', 'lapsed', 'cancelled', 'expired')),
    premium_cents   bigint  NOT NULL CHECK (premium_cents > 0),
    start_date      date    NOT NULL,
    end_date        date    NOT NULL,
    CHECK (end_date > start_date)
);

CREATE TABLE claims (
    claim_id        bigint        NOT NULL,
    policy_id       integer       NOT NULL,
    adjuster_id     integer,
    claim_number    text          NOT NULL CHECK (claim_number ~ '^CLM-[0-9]{7,}$'),
    status          claim_status  NOT NULL,
    loss_type       text          NOT NULL CHECK (loss_type IN (
        'collision', 'glass', 'theft', 'vandalism', 'liability', 'water_damage', 'storm', 'fire',
        'death', 'trip_cancellation', 'medical', 'baggage', 'delay')),
    amount_claimed  numeric(12,2) NOT NULL CHECK (amount_claimed > 0),
    amount_approved numeric(12,2)
        CHECK (amount_approved >= 0 AND amount_approved <= amount_claimed),
    reported_at     timestamptz   NOT NULL,
    closed_at       timestamptz   CHECK (closed_at >= reported_at),
    description     text          NOT NULL,
    details         jsonb         NOT NULL CHECK (jsonb_typeof(details) = 'object'),
    CHECK ((adjuster_id IS NULL) = (status = 'submitted')),
    CHECK ((closed_at IS NOT NULL) = (status IN ('denied', 'paid', 'closed'))),
    CHECK (amount_approved IS NULL OR status IN ('approved', 'paid', 'closed', 'reopened'))
);

CREATE TABLE claim_events (
    event_id   bigint      NOT NULL,
    claim_id   bigint      NOT NULL,
    event_type text        NOT NULL CHECK (event_type IN (
        'submitted', 'acknowledged', 'review_started', 'info_requested', 'approved', 'denied',
        'payment_issued', 'closed', 'reopened')),
    note       text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE payments (
    payment_id bigint        NOT NULL,
    claim_id   bigint        NOT NULL,
    amount     numeric(12,2) NOT NULL CHECK (amount > 0),
    paid_at    timestamptz   NOT NULL,
    method     text          NOT NULL CHECK (method IN ('ach', 'check', 'wire', 'card'))
);

COMMENT ON TYPE claim_status IS
    'Where a claim is in its life cycle: submitted (received, no adjuster yet) -> under_review '
    '(adjuster assigned) -> approved or denied; approved -> paid (payment issued) -> closed; '
    'a claim can also be closed without payment (withdrawn), and a paid claim can be reopened.';

COMMENT ON TABLE policyholders IS
    'Customers who hold one or more policies (one row per person).';
COMMENT ON COLUMN policyholders.policyholder_id IS 'Primary key.';
COMMENT ON COLUMN policyholders.full_name IS
    'First and last name, e.g. ''Maria Garcia''. Not unique.';
COMMENT ON COLUMN policyholders.email IS
    'Contact e-mail address (unique; fictional example.* domains).';
COMMENT ON COLUMN policyholders.date_of_birth IS 'Date of birth (1940-2002).';
COMMENT ON COLUMN policyholders.city IS 'City of residence, e.g. ''Denver''.';
COMMENT ON COLUMN policyholders.state IS 'US state of residence, two-letter code, e.g. ''CO''.';
COMMENT ON COLUMN policyholders.created_at IS 'When the customer record was created.';

COMMENT ON TABLE adjusters IS
    'Claims adjusters: employees who review claims. Each handles claims of policyholders '
    'living in their region.';
COMMENT ON COLUMN adjusters.adjuster_id IS 'Primary key.';
COMMENT ON COLUMN adjusters.full_name IS 'First and last name.';
COMMENT ON COLUMN adjusters.email IS 'Work e-mail address (unique).';
COMMENT ON COLUMN adjusters.region IS
    'US region the adjuster covers: northeast, southeast, midwest, southwest or west.';

COMMENT ON TABLE policies IS
    'Insurance policies (contracts). One policyholder can hold several policies.';
COMMENT ON COLUMN policies.policy_id IS 'Primary key.';
COMMENT ON COLUMN policies.policyholder_id IS 'The customer holding the policy (policyholders).';
COMMENT ON COLUMN policies.policy_number IS
    'Business identifier shown to customers, e.g. ''POL-0000042'' (unique).';
COMMENT ON COLUMN policies.product IS 'Line of business: auto, home, renters, life or travel.';
COMMENT ON COLUMN policies.status IS
    'active (in force), lapsed (ended for non-payment), cancelled (ended early on request) '
    'or expired (term ended).';
COMMENT ON COLUMN policies.premium_cents IS
    'Premium for the whole term in US cents (divide by 100 for dollars).';
COMMENT ON COLUMN policies.start_date IS 'First day of cover.';
COMMENT ON COLUMN policies.end_date IS
    'Last day of the term: start_date + 1 year, or + 5 to 44 days for travel.';

COMMENT ON TABLE claims IS
    'Insurance claims: a policyholder asks to be paid for a loss covered by a policy.';
COMMENT ON COLUMN claims.claim_id IS 'Primary key.';
COMMENT ON COLUMN claims.policy_id IS 'The policy the claim is made under (policies).';
COMMENT ON COLUMN claims.adjuster_id IS
    'Adjuster handling the claim (adjusters); NULL while the status is submitted.';
COMMENT ON COLUMN claims.claim_number IS 'Business identifier, e.g. ''CLM-0000123'' (unique).';
COMMENT ON COLUMN claims.status IS
    'Current status (enum claim_status): submitted, under_review, approved, denied, paid, '
    'closed or reopened.';
COMMENT ON COLUMN claims.loss_type IS
    'What happened. auto: collision, glass, theft, vandalism, liability; home: water_damage, '
    'storm, theft, fire, liability; renters: theft, water_damage, fire, liability; life: death '
    '(at most one claim per life policy); travel: trip_cancellation, medical, baggage, delay.';
COMMENT ON COLUMN claims.amount_claimed IS 'Amount the policyholder asked for, in US dollars.';
COMMENT ON COLUMN claims.amount_approved IS
    'Amount the insurer agreed to pay, in US dollars; NULL unless the claim was approved '
    '(statuses approved, paid, reopened, and closed after payment).';
COMMENT ON COLUMN claims.reported_at IS 'When the claim was submitted.';
COMMENT ON COLUMN claims.closed_at IS
    'When the claim was settled: denial time (denied), payment time (paid) or closing time '
    '(closed); NULL for open statuses (submitted, under_review, approved, reopened).';
COMMENT ON COLUMN claims.description IS 'Short free-text account of the loss.';
COMMENT ON COLUMN claims.details IS
    'Product-specific facts as a JSON object; always has "channel" (web, mobile_app, phone, '
    'agent). auto: vehicle{make, model_year}, police_report, injuries; home/renters: room, '
    'emergency_repair, police_report; travel: destination, trip_days; life: beneficiaries.';

COMMENT ON TABLE claim_events IS
    'History of each claim, oldest first: 2 to 6 events per claim. The latest event matches '
    'the claim''s current status.';
COMMENT ON COLUMN claim_events.event_id IS 'Primary key (increases with claim_id, then time).';
COMMENT ON COLUMN claim_events.claim_id IS 'The claim (claims).';
COMMENT ON COLUMN claim_events.event_type IS
    'submitted, acknowledged, review_started (adjuster assigned), info_requested, approved, '
    'denied, payment_issued, closed or reopened.';
COMMENT ON COLUMN claim_events.note IS 'Human-readable note, e.g. ''Approved for USD 1234.50''.';
COMMENT ON COLUMN claim_events.created_at IS 'When the event happened.';

COMMENT ON TABLE payments IS
    'Money paid out on approved claims: one payment per claim that reached payment '
    '(statuses paid and reopened, and closed claims that were paid).';
COMMENT ON COLUMN payments.payment_id IS 'Primary key.';
COMMENT ON COLUMN payments.claim_id IS 'The claim paid (claims).';
COMMENT ON COLUMN payments.amount IS 'Amount paid in US dollars (equals claims.amount_approved).';
COMMENT ON COLUMN payments.paid_at IS 'When the payment was issued.';
COMMENT ON COLUMN payments.method IS
    'ach (bank transfer), check, wire or card (push to debit card).';
