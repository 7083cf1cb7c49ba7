import fs from 'node:fs';

/** Nice value of every thread of this process (field 19 of /proc/self/task/TID/stat); threads may end mid-read. */
export function threadNices(): { tid: number; nice: number }[] {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      return [{ tid: Number(tid), nice: Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]) }];
    } catch {
      return [];
    }
  });
}
