/** A stable machine-readable error code of the API's catalogue (src/errors.ts). */
export type CatalogueCode = `RECO_ERR_${string}`;

/**
 * An error the caller is told about by its catalogue code: a bad setting, a full queue, a
 * broken checkpoint. The class names the code only; the one error handler (src/errors.ts)
 * maps it to the HTTP status, so nothing that throws one needs to know about HTTP.
 */
export abstract class CodedError extends Error {
  abstract readonly code: CatalogueCode;
  readonly details?: unknown;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
