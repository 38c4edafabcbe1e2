/** Roost's version, for the API's Server header, /version and `roost version`. */
export const roostVersion = '0.1.0';
