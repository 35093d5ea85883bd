// Where Fenix may send requests on a caller's behalf (webhooks, session downloads): the check made
// when a URL is registered. Delivery-time enforcement lives with the transports (notifier/url-policy.ts).

export interface OutboundUrlPolicy {
  /**
   * Resolves when `url` may be registered. Throws FenixError VALIDATION_FAILED for a value that is
   * not an http(s) URL and URL_FORBIDDEN for a refused target; messages never echo credentials.
   * `what` names the field in messages ("url", "download URL").
   */
  checkRegistration(url: string, what?: string): Promise<void>;
}
