import { loadMovielens } from '../bench/movielens';
import { NativeEngine } from '../src/engine/native-engine';
import { train } from '../src/engine/trainer';
import { resolveParams } from '../src/engine/params';
const ds = loadMovielens(process.argv[2] as any, '/work/shared/data');
const extra = JSON.parse(process.argv[3] ?? '{}');
const params = resolveParams({ ...extra });
train(ds, { engine: new NativeEngine(), params, scale: { min: 1, max: 5 }, onEpoch: (p) => console.log(JSON.stringify(p)) }).then((r) => console.log('TEST', r.test, 'best', r.bestEpoch, 'secs', r.seconds));
