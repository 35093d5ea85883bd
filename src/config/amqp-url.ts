// An AMQP broker's address as the service's flags accept it: amqp:// or an oslo transport_url.
/** `rabbit://u:p@h1:5672,u:p@h2:5672/vhost` → `amqp://u:p@h1:5672/vhost`. */
export function amqpUrlOf(url: string): string {
  const m = /^(rabbit|amqp|amqps|kombu)(\+\w+)?:\/\/([^/]*)(\/.*)?$/i.exec(url.trim());
  if (!m) throw new Error(`not an AMQP URL: ${url}`);
  const scheme = m[1]!.toLowerCase() === 'amqps' ? 'amqps' : 'amqp';
  const host = m[3]!.split(',')[0]!;
  return `${scheme}://${host}${m[4] ?? '/'}`;
}
