import re,sys,collections
L=[l.strip() for l in open(sys.argv[1]).read().split('\n')]
# loop head: label right before LDGDEPBAR
head=None
for i,l in enumerate(L):
    if l=='LDGDEPBAR ;' and re.match(r'^\.L_x_\d+:$',L[i-1]): head=L[i-1][:-1]; hi=i-1; break
tail=max(i for i,l in enumerate(L) if re.search(r'BRA `\(%s\)'%re.escape(head),l))
body=L[hi:tail+1]
# find edge region: unconditional BRA preceded by a region with MUFU and many ISETP
idx=[i for i,l in enumerate(body) if re.match(r'^BRA `',l)]
excl=set()
for j in idx:
    # region start = previous conditional branch
    k=max(i for i in range(j) if re.match(r'^@!?P\d BRA',body[i]))
    seg=body[k+1:j+1]
    if sum('MUFU.EX2' in s for s in seg)>=16 and sum(s.startswith('ISETP') for s in seg)>=16:
        excl.update(range(k+1,j+1))
def op(s): return re.sub(r'^@!?U?P\w+\s+','',s).split()[0].rstrip(';')
def cat(o):
    if o.startswith(('HMMA','LDSM','LDGSTS','STS','LDS','LDG','STG','RED','ATOM','STSM','BAR','MEMBAR','DEPBAR','LDGDEPBAR','NOP','BRA','BSSY','BSYNC','LDC')): return 'mem/ctl/mma'
    if re.match(r'^(F|MUFU|HADD2|HMUL2|HFMA2)',o) and not o.startswith('F2I'): return 'fp'
    if o.startswith('U') or o in('R2UR','S2UR'): return 'uniform-int'
    return 'int'
c=collections.Counter(); ops=collections.Counter()
for i,l in enumerate(body):
    if i in excl or not l or l.startswith('.') : continue
    o=op(l); c[cat(o)]+=1; ops[o]+=1
print('loop head',head,'lines',len(body),'excluded edge',len(excl))
print('total',sum(c.values()),dict(c))
print(sorted(ops.items(),key=lambda x:-x[1]))
