// The broker's services at a glance; each name opens the service's details.
import type { DashboardService } from '@correio/protocol';
import { formatMicros, formatNumber, perSecond } from './format.js';

export function ServiceList({ services, intervalMs, selected, onSelect }: { services: readonly DashboardService[]; intervalMs: number; selected: string | undefined; onSelect: (name: string) => void }) {
  return (
    <section class="services" aria-labelledby="services-heading">
      <h2 id="services-heading">Broker services</h2>
      {services.length === 0 ? (
        <p class="empty">The broker lists no service.</p>
      ) : (
        <table class="data">
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Workers (idle)</th>
              <th scope="col">Queue</th>
              <th scope="col">Requests/s</th>
              <th scope="col">Errors/s</th>
              <th scope="col">p99</th>
            </tr>
          </thead>
          <tbody>
            {[...services]
              .sort((a, b) => a.name.localeCompare(b.name))
              .map((service) => (
                <tr key={service.name}>
                  <th scope="row">
                    <button type="button" class="link" aria-pressed={selected === service.name} onClick={() => onSelect(service.name)}>
                      {service.name}
                    </button>
                  </th>
                  <td>
                    {service.workers} ({service.idle})
                  </td>
                  <td>{service.queue_depth}</td>
                  <td>{formatNumber(perSecond(service.requests, intervalMs))}</td>
                  <td>{formatNumber(perSecond(service.errors, intervalMs))}</td>
                  <td>{formatMicros(service.p99_us)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
