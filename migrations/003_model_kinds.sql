-- A job trains an ensemble or one model kind and keeps its evaluation report (every model
-- and the baselines on the evaluation bucket); each model records its kind.
ALTER TABLE jobs ADD COLUMN report TEXT;
ALTER TABLE models ADD COLUMN kind TEXT NOT NULL DEFAULT 'nnmf';
-- Why a model's checkpoint could not be loaded (missing, truncated or altered files); NULL when it can.
ALTER TABLE models ADD COLUMN broken TEXT;
