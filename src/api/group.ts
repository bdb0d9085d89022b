// The API group and version shared by the CRDs, the config file and both processes.
export const GROUP = 'kubelived.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
