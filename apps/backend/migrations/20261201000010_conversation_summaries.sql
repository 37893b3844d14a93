-- A rolling summary of a long conversation's older turns (those past the model's
-- window), written by the model in the background and given to it in later turns.
ALTER TABLE chat_sessions ADD COLUMN summary TEXT;
-- How many of the conversation's first messages the summary covers.
ALTER TABLE chat_sessions ADD COLUMN summary_covers BIGINT NOT NULL DEFAULT 0;
