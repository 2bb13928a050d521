/** A JSON value: what task data, results and serialised errors are made of. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json }

/** A JSON object (the shape of task data and results). */
export type JsonObject = { readonly [key: string]: Json }
