-- Row-level security of the sqlgateway demo database: per-user scoping.
--
-- A format() template of the role names (%1$I: the gateway's login role, the reader;
-- %2$I: the policyholder role; %3$I: the adjuster role), applied by sqlgateway.demo when it,
-- the names or the policies in the catalog changed. sqlgateway.demo first drops every policy
-- on the demo tables, so this file is the whole truth. (Only format() placeholders may use
-- the percent sign here.)
--
-- The reader keeps seeing every row (a `USING (true)` policy), as long as it does not
-- SET ROLE. For a scoped request the gateway runs, inside BEGIN READ ONLY,
--     SET LOCAL ROLE <policyholder or adjuster role>;
--     SET LOCAL sqlgateway.user_id = '<the caller''s policyholder_id or adjuster_id>';
-- and the policies below show only that user's rows until the transaction ends. The reader
-- is a NOINHERIT member of both roles: it may SET ROLE to them, but their policies never
-- apply to it (a role also bound by both policy sets would loop: claims -> policies -> claims).
--
-- The user id is read as
--     substring(current_setting('sqlgateway.user_id', true) from '^[1-9][0-9]{0,8}$')::integer
-- which is NULL, so no row matches, when the setting is missing, empty or not a plain positive
-- integer: never a cast error. It is stable, so PostgreSQL evaluates it once per query and
-- uses it as an index key. Rows reached through another table use
--     key = ANY (ARRAY(SELECT key FROM other_table))
-- an InitPlan run once; the subquery is itself filtered by other_table's policies for the
-- current role, and `= ANY (array)` is an index condition. Every policy is permissive and
-- FOR SELECT (the roles cannot write anyway).
--
-- Example users at the default size (100,000 claims), chosen by
--     SELECT p.policyholder_id, count(*) AS claims, count(DISTINCT p.policy_id) AS policies
--     FROM claims c JOIN policies p USING (policy_id)
--     GROUP BY 1 HAVING count(*) >= 5 AND count(DISTINCT p.product) >= 2
--     ORDER BY 1 LIMIT 1;
--     SELECT adjuster_id, count(*) FROM claims WHERE adjuster_id IS NOT NULL
--     GROUP BY 1 ORDER BY 1 LIMIT 1;
-- give policyholder 6 (Mei White, Buffalo NY: 5 claims, CLM-0045357, CLM-0047946,
-- CLM-0053882, CLM-0067531 and CLM-0081764, under an auto and a travel policy) and adjuster 1
-- (Raj Chen, northeast: 1,907 claims, CLM-0067531 among them). Other sizes give other rows.

-- The owner (the superuser that loaded the data) bypasses it anyway: no FORCE.
ALTER TABLE policyholders ENABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
ALTER TABLE adjusters ENABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
ALTER TABLE policies ENABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
ALTER TABLE claims ENABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
ALTER TABLE claim_events ENABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
ALTER TABLE payments ENABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;

-- The reader: everything.
CREATE POLICY reader_sees_all ON policyholders FOR SELECT TO %1$I USING (true);
CREATE POLICY reader_sees_all ON adjusters FOR SELECT TO %1$I USING (true);
CREATE POLICY reader_sees_all ON policies FOR SELECT TO %1$I USING (true);
CREATE POLICY reader_sees_all ON claims FOR SELECT TO %1$I USING (true);
CREATE POLICY reader_sees_all ON claim_events FOR SELECT TO %1$I USING (true);
CREATE POLICY reader_sees_all ON payments FOR SELECT TO %1$I USING (true);

-- A policyholder: their own record, their policies and the claims under them (with their
-- events and payments), and the adjusters handling those claims (a name to ask for).
CREATE POLICY policyholder_self ON policyholders FOR SELECT TO %2$I
    USING (policyholder_id
           = substring(current_setting('sqlgateway.user_id', true) from '^[1-9][0-9]{0,8}$')
             ::integer);
CREATE POLICY policyholder_own_policies ON policies FOR SELECT TO %2$I
    USING (policyholder_id
           = substring(current_setting('sqlgateway.user_id', true) from '^[1-9][0-9]{0,8}$')
             ::integer);
CREATE POLICY policyholder_own_claims ON claims FOR SELECT TO %2$I
    USING (policy_id = ANY (ARRAY(
        SELECT policy_id FROM policies
        WHERE policyholder_id
              = substring(current_setting('sqlgateway.user_id', true) from '^[1-9][0-9]{0,8}$')
                ::integer)));
CREATE POLICY policyholder_claim_adjusters ON adjusters FOR SELECT TO %2$I
    USING (adjuster_id = ANY (ARRAY(SELECT adjuster_id FROM claims)));

-- An adjuster: the claims assigned to them (with their events and payments), the policies
-- those claims are under and the policyholders holding them (to contact), and their own
-- record. Enough to answer "what is the status of claim X" for their claims, nothing more.
CREATE POLICY adjuster_assigned_claims ON claims FOR SELECT TO %3$I
    USING (adjuster_id
           = substring(current_setting('sqlgateway.user_id', true) from '^[1-9][0-9]{0,8}$')
             ::integer);
CREATE POLICY adjuster_claim_policies ON policies FOR SELECT TO %3$I
    USING (policy_id = ANY (ARRAY(SELECT policy_id FROM claims)));
CREATE POLICY adjuster_claim_policyholders ON policyholders FOR SELECT TO %3$I
    USING (policyholder_id = ANY (ARRAY(SELECT policyholder_id FROM policies)));
CREATE POLICY adjuster_self ON adjusters FOR SELECT TO %3$I
    USING (adjuster_id
           = substring(current_setting('sqlgateway.user_id', true) from '^[1-9][0-9]{0,8}$')
             ::integer);

-- Both: the events and payments of the claims the role sees (claims' policies above decide).
CREATE POLICY of_visible_claims ON claim_events FOR SELECT TO %2$I, %3$I
    USING (claim_id = ANY (ARRAY(SELECT claim_id FROM claims)));
CREATE POLICY of_visible_claims ON payments FOR SELECT TO %2$I, %3$I
    USING (claim_id = ANY (ARRAY(SELECT claim_id FROM claims)));
