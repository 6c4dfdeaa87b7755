-- Who caused a control-plane event (an operator's name); empty for agent calls.
ALTER TABLE events ADD COLUMN actor TEXT;
