/**
 * The JSON body a destination receives, built from the events row `e`: by the
 * claim and by the publishing statement's fast path alike, so the bytes of an
 * event's body are the same whichever path sent it.
 */
export const envelope = (e: string) => `(jsonb_build_object(
         'id', ${e}.id,
         'type', ${e}.type,
         'timestamp', to_char(${e}.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'data', ${e}.payload
       ) || CASE WHEN ${e}.is_test THEN '{"test": true}'::jsonb ELSE '{}'::jsonb END)::text`;
