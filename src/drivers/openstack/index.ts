export { credentialsFromEnv, identityV3Url, KeystoneSession, type OpenStackCredentials, type TokenInfo } from './keystone.js';
export { OpenStackDriver, DEFAULT_MICROVERSION, MOVE_METADATA_KEY, decodeMoveRef, encodeMoveRef, type OpenStackDriverOptions } from './nova-driver.js';
export { httpJson, HttpError, openStackMessage } from './http.js';
export { AodhSubscriptionSync, eventTypeMatches, AODH_SUBSCRIPTION_PREFIX } from './aodh.js';
