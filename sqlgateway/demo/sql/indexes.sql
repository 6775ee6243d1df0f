-- Keys, foreign keys and indexes of the sqlgateway demo database.
--
-- Run by sqlgateway.demo after data.sql, in the same transaction: building them once over
-- the loaded rows is much faster than maintaining them row by row.

ALTER TABLE policyholders ADD PRIMARY KEY (policyholder_id), ADD UNIQUE (email);
ALTER TABLE adjusters ADD PRIMARY KEY (adjuster_id), ADD UNIQUE (email);
ALTER TABLE policies
    ADD PRIMARY KEY (policy_id),
    ADD UNIQUE (policy_number),
    ADD FOREIGN KEY (policyholder_id) REFERENCES policyholders;
ALTER TABLE claims
    ADD PRIMARY KEY (claim_id),
    ADD UNIQUE (claim_number),
    ADD FOREIGN KEY (policy_id) REFERENCES policies,
    ADD FOREIGN KEY (adjuster_id) REFERENCES adjusters;
ALTER TABLE claim_events
    ADD PRIMARY KEY (event_id),
    ADD FOREIGN KEY (claim_id) REFERENCES claims;
ALTER TABLE payments
    ADD PRIMARY KEY (payment_id),
    ADD FOREIGN KEY (claim_id) REFERENCES claims;

-- Foreign-key columns (joins) and the usual filters.
CREATE INDEX policies_policyholder_id_idx ON policies (policyholder_id);
CREATE INDEX claims_policy_id_idx ON claims (policy_id);
CREATE INDEX claims_adjuster_id_idx ON claims (adjuster_id);
CREATE INDEX claims_status_idx ON claims (status);
CREATE INDEX claims_reported_at_idx ON claims (reported_at);
CREATE INDEX claim_events_claim_id_created_at_idx ON claim_events (claim_id, created_at);
CREATE INDEX payments_claim_id_idx ON payments (claim_id);
CREATE INDEX payments_paid_at_idx ON payments (paid_at);
