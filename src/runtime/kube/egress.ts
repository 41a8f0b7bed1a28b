/**
 * Egress per outbound pool: each pool's pods take addresses from their own Calico IPPool with NAT off,
 * so egress NAT happens outside the node and each pool leaves from its own public address.
 */
import { meta, OUTBOUND_POOLS, type OutboundPool, type RenderContext } from './context.ts';
import type { Rendered } from './objects.ts';

export const ipPoolName = (ctx: RenderContext, pool: OutboundPool, family: 4 | 6): string => `${ctx.platform}-${pool}-v${family}`;

/** Pod annotations that pin a pool's pods to its IPPools. */
export function ipPoolAnnotations(ctx: RenderContext, pool: OutboundPool): Record<string, string> {
  const spec = ctx.spec.outbound[pool];
  return {
    'cni.projectcalico.org/ipv4pools': JSON.stringify([ipPoolName(ctx, pool, 4)]),
    ...(spec.ipv6Cidr ? { 'cni.projectcalico.org/ipv6pools': JSON.stringify([ipPoolName(ctx, pool, 6)]) } : {}),
  };
}

function ipPool(ctx: RenderContext, pool: OutboundPool, family: 4 | 6, cidr: string): Rendered {
  const prefix = Number(cidr.split('/')[1]);
  return {
    object: {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPPool',
      metadata: meta(ctx, ipPoolName(ctx, pool, family), pool, { namespaced: false }),
      spec: {
        cidr,
        natOutgoing: false,
        blockSize: family === 4 ? Math.max(29, prefix) : Math.max(122, prefix),
        ipipMode: 'Never',
        vxlanMode: 'Never',
        // Only pods that ask for this pool by annotation get its addresses.
        nodeSelector: '!all()',
      },
    },
  };
}

export function renderEgress(ctx: RenderContext): Rendered[] {
  const out: Rendered[] = [];
  for (const pool of OUTBOUND_POOLS) {
    const spec = ctx.spec.outbound[pool];
    if (spec.replicas === 0) continue;
    out.push(ipPool(ctx, pool, 4, spec.ipv4Cidr));
    if (spec.ipv6Cidr) out.push(ipPool(ctx, pool, 6, spec.ipv6Cidr));
  }
  return out;
}
