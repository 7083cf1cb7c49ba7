import fp from 'fastify-plugin';
import { Catalogue } from '../serving/catalogue';
import { LiveItems, LiveUsers } from '../serving/live';

declare module 'fastify' {
  interface FastifyInstance {
    /** Hidden items and the attribute index for filters, kept in memory. */
    catalogue: Catalogue;
    /** How each user is served now: trained row, fold-in or fallback. */
    live: LiveUsers;
    /** Items the active model does not know, folded in from their current ratings. */
    liveItems: LiveItems;
  }
}

/** Live personalisation over the active model: fold-in of changed users, hidden items, filters. */
export default fp(
  async (app) => {
    const catalogue = new Catalogue(app.ratings.catalogueRows());
    const versions = new Map<string, number | null>();
    const modelDataVersion = (modelId: string) => {
      if (!versions.has(modelId)) versions.set(modelId, app.models.get(modelId)?.dataVersion ?? null);
      return versions.get(modelId) ?? null;
    };
    app.decorate('catalogue', catalogue);
    app.decorate('live', new LiveUsers(app.ratings, modelDataVersion, app.log));
    app.decorate('liveItems', new LiveItems(app.ratings, modelDataVersion, app.log));
  },
  { name: 'live', dependencies: ['database', 'training'] },
);
