/**
 * The context recorded with each transfer before the policy runs: price and screening from local tables
 * (until the price-oracle and screening integrations exist), velocity sums over the rolling windows the
 * policy in force needs, and the governance facts (initiator's groups, address-book entry, wallet tier).
 * Recorded as a `RecordedContext`, whose digest every approval signs.
 */
import { assetInfo } from '../domain/assets.ts';
import type { GovernanceState } from '../governance/index.ts';
import type { CompiledPolicy, PolicyContextJsonType, RiskLevelName, TierName } from '../policy/index.ts';
import type { Queryable } from '../store/index.ts';
import { governanceRepository } from '../store/repositories/governance-repository.ts';
import { governanceFacts, type EvidenceRequest, type RecordedContext } from '../vault/evidence.ts';

export interface LocalPrice {
  /** Fiat minor units (e.g. cents) per one whole unit of the asset, decimal string. */
  fiatPerUnit: string;
  currency: string;
}

/** Requests whose amounts count toward velocity: approved, or still on their way to it. */
export const VELOCITY_STATUSES = ['approved', 'pending_approval', 'time_locked'];

export function createContextService(options: { prices?: Record<string, LocalPrice>; screening?: Record<string, RiskLevelName> } = {}) {
  const prices = new Map(Object.entries(options.prices ?? { BTC: { fiatPerUnit: '6000000', currency: 'USD' }, ETH: { fiatPerUnit: '300000', currency: 'USD' } }));
  const screening = new Map(Object.entries(options.screening ?? {}));

  function fiatOf(asset: string, units: bigint): bigint | undefined {
    const price = prices.get(asset);
    if (!price) return undefined;
    return (units * BigInt(price.fiatPerUnit)) / 10n ** BigInt(assetInfo(asset).decimals);
  }

  return {
    /** Sets the local price of an asset (fiat minor units per whole unit). */
    setPrice(asset: string, price: LocalPrice): void {
      assetInfo(asset);
      if (!/^(0|[1-9][0-9]{0,30})$/.test(price.fiatPerUnit)) throw new TypeError('fiatPerUnit must be a decimal string of minor units');
      prices.set(asset, price);
    },
    /** Puts an address on the local screening list with a risk level. */
    setScreening(address: string, risk: RiskLevelName): void {
      screening.set(address, risk);
    },

    /** Gathers and records the context of `r` under `state` for `policy`, at the request's creation time. */
    async record(q: Queryable, r: EvidenceRequest, state: GovernanceState, policy: CompiledPolicy, tier: TierName | undefined): Promise<RecordedContext> {
      const p = r.payload as Record<string, string>;
      const amount = BigInt(p.amount!);
      const at = Date.parse(r.createdAt);
      const facts: { -readonly [K in keyof PolicyContextJsonType]: PolicyContextJsonType[K] } = { ...governanceFacts(state, r, tier) };
      const fiat = fiatOf(p.asset!, amount);
      if (fiat !== undefined) facts.fiat = fiat.toString();
      const risk = screening.get(p.to!) ?? 'low';
      facts.screening = { risk };
      if (policy.velocityNeeds.length > 0) {
        const longest = Math.max(...policy.velocityNeeds.map((n) => n.windowSeconds));
        const past = await governanceRepository.recentRequests(q, r.tenant, VELOCITY_STATUSES, new Date(at - longest * 1000).toISOString());
        facts.velocity = policy.velocityNeeds.map((need) => {
          let units = 0n;
          let fiatSum = 0n;
          for (const row of past) {
            if (row.id === r.id || Date.parse(row.created_at) < at - need.windowSeconds * 1000) continue;
            const other = JSON.parse(row.payload) as Record<string, string>;
            if (other.asset !== p.asset) continue;
            if (need.scope === 'wallet' && other.from !== p.from) continue;
            if (need.scope === 'initiator' && row.initiator_user_id !== r.initiator) continue;
            units += BigInt(other.amount!);
            fiatSum += fiatOf(other.asset!, BigInt(other.amount!)) ?? 0n;
          }
          return { scope: need.scope, windowSeconds: need.windowSeconds, units: units.toString(), fiat: fiatSum.toString() };
        });
      }
      const price = prices.get(p.asset!);
      return {
        facts,
        sources: {
          ...(price ? { price: { asset: p.asset!, fiatPerUnit: price.fiatPerUnit, currency: price.currency, source: 'local-price-table' } } : {}),
          screening: { address: p.to!, risk, source: 'local-screening-list' },
        },
        evaluatedAt: r.createdAt,
      };
    },
  };
}

export type ContextService = ReturnType<typeof createContextService>;
